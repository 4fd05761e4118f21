"""The expert workforce: conflicts between workspaces, people's history and affiliations,
exclusions, skills, and explanations of every wall decision.

Who does what:

* a workspace **owner** declares its competitors (``add_conflict``) and the
  affiliations it excludes (``add_exclusion``);
* a wall is lifted only by whoever holds it up (one ``conflict_declarations`` row
  per holder): the declaring workspace withdraws its own declaration
  (``remove_conflict``: two-person approval, then a waiting period — or the other
  side's consent, ``consent_removal``); a sector group's wall goes only when a
  platform admin takes a workspace out of the group (``remove_from_group``). A
  wall held by both sides stands until both have withdrawn. Withdrawals take
  effect by time alone: a row whose ``lifts_at`` has passed no longer holds
  (``storage/workforce_store.py`` filters it) and the pair's next change deletes it;
* a **platform admin** groups competing workspaces into sector groups, records
  people's affiliations, prior employment and declared sides (with the client's
  approval), and grants skills;
* the decision itself is made in ``access.py`` (``Access.require_content``)
  from ``domain/walls.py`` — nothing here decides access.

Every change is audited in the logs of the workspaces it affects, so a client
sees every wall that is raised or lifted on its side.
"""

from __future__ import annotations

from typing import Any

from . import approvals
from .context import Context, Unit
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..domain.projects import parse_skill
from ..domain.users import User, normalise_email
from ..domain.walls import Affiliation, Declaration, Edge, Exclusion, combine, decide, is_live, normalise_org, when
from ..storage import memberships_store, queue_store, users_store, workforce_store, workspaces_store
from ..storage.workforce_store import Group

DAY_MS = 24 * 3600 * 1000
KINDS = ("employer", "investor", "contractor", "advisor", "board", "family", "other")


def _person(w: Unit, ref: str) -> User:
    if "@" in ref:
        row = users_store.find_user_by_email(w.tx, normalise_email(ref))
    else:
        row = users_store.find_user(w.tx, ref)
    if row is None:
        raise NotFound("person not found")
    return row


def _person_for(w: Unit, ref: str) -> User:
    """A person the caller may manage: themselves, or anyone for platform admins (else not found)."""
    row = _person(w, ref)
    if row.id != w.actor.user_id and not w.actor.is_admin:
        raise NotFound("person not found")
    return row


def _member_workspaces(w: Unit, user_id: str) -> list[str]:
    return memberships_store.list_workspace_ids_of(w.tx, user_id)


def _cooling_ms(days: float | None) -> int | None:
    if days is None:
        return None
    if days < 0 or days > 36500:
        raise InvalidInput("cooling_off_days: from 0 to 36500 (or none: the wall never lifts)")
    return int(days * DAY_MS)


def _both_sides(w: Unit, a: str, b: str, cooling_ms: int | None) -> list[str]:
    """People with live history on both a and b (an edge between them would put them on both sides)."""
    first, second = sorted((a, b))
    edge = Edge(first, second, cooling_off_ms=cooling_ms)
    seen: dict[str, set[str]] = {}
    for row in workforce_store.list_history_on(w.tx, (a, b)):
        if is_live(row.history, edge, w.now):
            seen.setdefault(row.user_id, set()).add(row.workspace_id)
    return sorted(u for u, sides in seen.items() if len(sides) == 2)


def _pair(a: str, b: str) -> tuple[str, str]:
    if a == b:
        raise InvalidInput("a workspace cannot conflict with itself")
    lo, hi = sorted((a, b))
    return lo, hi


def _declarations(w: Unit, lo: str, hi: str) -> list[Declaration]:
    """The pair's holders; withdrawals whose instant has passed are deleted first (they no longer hold)."""
    workforce_store.delete_lapsed_declarations(w.tx, lo, hi, w.now)
    return workforce_store.list_declarations(w.tx, lo, hi)


def _both_logs(w: Unit, lo: str, hi: str, action: str, **details) -> None:
    for ws in (lo, hi):
        w.audit(ws, action, lo if ws == hi else hi, **details)


def _hold(w: Unit, a: str, b: str, holder: str, cooling_ms: int | None) -> bool:
    """``holder`` holds the wall between a and b (again). False if it held it already, unscheduled."""
    lo, hi = _pair(a, b)
    existing = _declarations(w, lo, hi)
    mine = next((d for d in existing if d.holder == holder), None)
    if mine is not None and mine.lifts_at is None:
        return False
    others = [d for d in existing if d.holder != holder]
    cooling = mine.cooling_off_ms if mine is not None else cooling_ms
    after = combine([*others, Declaration(lo, hi, holder, cooling, w.now)], w.now)[0]
    with w.wall_check_scope((lo, hi)):  # everyone's history on both ends, not only the caller's
        both = _both_sides(w, lo, hi, after.cooling_off_ms)
    if both:
        raise Conflict(
            f"{len(both)} person(s) have worked on both workspaces recently; the wall would put them on "
            "both sides. Resolve their access first (bastion walls explain).",
            details={"people": both},
        )
    if mine is not None:  # a scheduled withdrawal is called off: the declaration holds again
        workforce_store.set_lifts_at(w.tx, lo, hi, holder, None)
        _both_logs(w, lo, hi, "wall.removal_cancelled", holder=holder, was_due=mine.lifts_at)
        return True
    try:
        workforce_store.insert_declaration(
            w.tx, lo, hi, holder=holder, cooling_off_ms=cooling_ms, now=w.now, created_by=w.actor.user_id
        )
    except NotFound as exc:
        raise NotFound("competitor: workspace not found") from exc
    _both_logs(
        w,
        lo,
        hi,
        "wall.conflict_added",
        cooling_off_ms=cooling_ms,
        source="declared" if not holder.startswith("group:") else holder,
        holder=holder,
    )
    return True


def _withdraw(w: Unit, lo: str, hi: str, holder: str, *, approval: str | None) -> dict:
    """Schedule ``holder``'s withdrawal after the waiting period (at once if it is 0); both logs say when."""
    wait_ms = int(w.rt.settings.wall_removal_wait_days * DAY_MS)
    effective_at = w.now + wait_ms
    others = [d.holder for d in _declarations(w, lo, hi) if d.holder != holder and d.lifts_at is None]
    if wait_ms == 0:
        workforce_store.delete_declaration(w.tx, lo, hi, holder)
        _both_logs(w, lo, hi, "wall.conflict_removed", holder=holder, approval=approval, still_held_by=others)
    else:
        workforce_store.set_lifts_at(w.tx, lo, hi, holder, effective_at)
        _both_logs(
            w,
            lo,
            hi,
            "wall.removal_scheduled",
            holder=holder,
            lifts_at=effective_at,
            approval=approval,
            still_held_by=others,
        )
    return {"holder": holder, "effective_at": effective_at, "other_holders": others}


def add_conflict(ctx: Context, workspace_id: str, competitor_id: str, *, cooling_off_days: float | None = None) -> dict:
    """Declare that a workspace competes with another (owners of the first; platform admins).

    Declaring again calls off this workspace's scheduled withdrawal; declaring a
    wall the other side is withdrawing keeps it standing (it is now held by both).
    """
    cooling = _cooling_ms(cooling_off_days)
    with ctx.write() as w:
        if not ctx.actor.is_admin:
            w.access.require(Action.WALLS_MANAGE, workspace_id)
        added = _hold(w, workspace_id, competitor_id, workspace_id, cooling)
    return {"workspace": workspace_id, "competitor": competitor_id, "added": added, "cooling_off_ms": cooling}


def remove_conflict(
    ctx: Context, workspace_id: str, competitor_id: str, *, approval: str | None = None, break_glass: str | None = None
) -> dict:
    """Withdraw this workspace's declaration of a wall: owners, with two-person approval; it falls after the wait.

    Only the declaring workspace withdraws its declaration (a wall the other side or
    a sector group holds: 403). The wall stands until every holder has withdrawn
    and each withdrawal's waiting period has passed — or the other side consents.
    """
    with ctx.write() as w:
        w.access.require(Action.WALLS_MANAGE, workspace_id)
        lo, hi = sorted((workspace_id, competitor_id))
        held = _declarations(w, lo, hi) if lo != hi else []
        mine = next((d for d in held if d.holder == workspace_id), None)
        if mine is None:
            if not held:
                raise NotFound("no such conflict")
            if any(not d.is_group for d in held):
                raise PermissionDenied(
                    "this wall was declared by the other workspace: only its owners can withdraw "
                    "their declaration (you may consent when they do)"
                )
            raise PermissionDenied(
                "this wall comes from a sector group: only a platform admin removes it, by taking "
                "a workspace out of the group"
            )
        if mine.lifts_at is not None:
            raise Conflict(f"this workspace's withdrawal is already scheduled (effective on {when(mine.lifts_at)})")
        used = approvals.consume(
            w, "wall.remove", workspace_id, {"competitor": competitor_id}, approval_id=approval, break_glass=break_glass
        )
        return {
            "workspace": workspace_id,
            "competitor": competitor_id,
            **_withdraw(w, lo, hi, workspace_id, approval=used),
        }


def consent_removal(ctx: Context, workspace_id: str, competitor_id: str) -> dict:
    """The other side's owner agrees to the competitor's scheduled withdrawal: it takes effect now."""
    with ctx.write() as w:
        w.access.require(Action.WALLS_MANAGE, workspace_id)
        lo, hi = sorted((workspace_id, competitor_id))
        held = _declarations(w, lo, hi) if lo != hi else []
        theirs = next((d for d in held if d.holder == competitor_id), None)
        if theirs is None:
            raise NotFound("that workspace holds no wall with this one")
        if theirs.lifts_at is None:
            raise Conflict("that workspace has not withdrawn its declaration: there is nothing to consent to")
        workforce_store.delete_declaration(w.tx, lo, hi, competitor_id)
        others = [d.holder for d in held if d.holder != competitor_id]
        _both_logs(
            w,
            lo,
            hi,
            "wall.removal_consented",
            holder=competitor_id,
            consented_by=workspace_id,
            was_due=theirs.lifts_at,
            still_held_by=others,
        )
        return {
            "workspace": workspace_id,
            "competitor": competitor_id,
            "holder": competitor_id,
            "effective_at": w.now,
            "other_holders": others,
        }


def list_conflicts(ctx: Context, workspace_id: str) -> list[dict]:
    """The walls standing around a workspace: who holds each, and when a scheduled withdrawal takes effect."""
    with ctx.read() as r:
        r.access.require(Action.WALLS_READ, workspace_id)
        edges = workforce_store.list_edges(r.tx, workspace_id)
        rows = workforce_store.list_scheduled_withdrawals(r.tx, workspace_id, r.now)
    scheduled = {(row.workspace_a, row.workspace_b, row.holder): row.lifts_at for row in rows}
    return [
        {
            "competitor": e.other(workspace_id),
            "cooling_off_ms": e.cooling_off_ms,
            "source": e.source,
            "since": e.since,
            "lifts_at": e.lifts_at,
            "holders": [{"holder": h, "withdrawal_effective_at": scheduled.get((e.a, e.b, h))} for h in e.holders],
        }
        for e in edges
    ]


# -- the walls page: competitors by name ---------------------------------------------
#
# People name competitors by workspace name on the walls page. The names offered, and
# accepted, are those of workspaces the caller is a member of (platform admins: every
# workspace), as the home page lists them: a name lookup over the whole deployment would
# tell an owner which other clients exist ("is there a workspace called Acme?"). A
# competitor the caller is not a member of is still named by its id, as the API takes it
# (an id is not guessable, and its owners or a platform admin give it out); the page
# lists such a competitor by its id, never by a name the caller could not see elsewhere.


def _known_workspaces(u: Unit, workspace_id: str) -> dict[str, str]:
    """Workspace id -> name for those the caller may name (their memberships; admins: all), not this one."""
    member_of = None if u.actor.is_admin else u.access.workspace_ids()
    rows = workspaces_store.list_workspaces(u.tx, member_of) if member_of is None or member_of else []
    return {row.id: row.name for row in rows if row.id != workspace_id}


def _resolve_competitor(u: Unit, workspace_id: str, ref: str) -> str:
    ref = ref.strip()
    if not ref:
        raise InvalidInput("competitor: the competing workspace's name")
    known = _known_workspaces(u, workspace_id)
    if ref in known:
        return ref
    wanted = " ".join(ref.split()).casefold()
    matches = sorted(ws for ws, name in known.items() if " ".join(name.split()).casefold() == wanted)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidInput(
            f"competitor: {len(matches)} of your workspaces are named {ref!r}; give the id of the one you mean "
            f"({', '.join(matches)})"
        )
    if ref == workspace_id:
        raise InvalidInput("a workspace cannot conflict with itself")
    if ref.startswith("ws_") and " " not in ref:
        return ref  # an id given out of band: as the API takes it (NotFound when there is none)
    raise NotFound(
        f"competitor: none of your workspaces is named {ref!r} (a workspace you are not a member of is named "
        "by its id, which its owners or a platform admin can give you)"
    )


def add_competitor(ctx: Context, workspace_id: str, competitor: str, *, cooling_off_days: float | None = None) -> dict:
    """``add_conflict`` with the competitor named as people know it: the name of a workspace the caller
    is a member of (platform admins: any), or an id (see above)."""
    cooling = _cooling_ms(cooling_off_days)
    with ctx.write() as w:
        if not ctx.actor.is_admin:
            w.access.require(Action.WALLS_MANAGE, workspace_id)
        competitor_id = _resolve_competitor(w, workspace_id, competitor)
        added = _hold(w, workspace_id, competitor_id, workspace_id, cooling)
    return {"workspace": workspace_id, "competitor": competitor_id, "added": added, "cooling_off_ms": cooling}


def walls_overview(ctx: Context, workspace_id: str) -> dict[str, Any]:
    """The walls page in one reading: each wall with the competitor's name where the caller may know it,
    who holds it and the state of its removal; the exclusions; the names a competitor may be given.

    A wall this workspace declared shows its removal's state: ``held``, ``pending`` (a request
    for a second owner's approval waits), ``approved`` (the caller asked, and may withdraw now),
    ``approved_for_another`` (another owner asked, and withdraws) or ``scheduled`` (it falls at
    ``effective_at`` unless the other side consents sooner). A wall the other side is
    withdrawing shows ``consent``: this side's owners may let it fall now.
    """
    with ctx.read() as r:
        r.access.require(Action.WALLS_READ, workspace_id)
        edges = workforce_store.list_edges(r.tx, workspace_id)
        rows = workforce_store.list_scheduled_withdrawals(r.tx, workspace_id, r.now)
        exclusions = workforce_store.list_exclusions(r.tx, workspace_id)
        known = _known_workspaces(r, workspace_id)
        may_manage = r.access.allows(Action.WALLS_MANAGE, workspace_id)
        requests = (
            approvals.open_requests(r, workspace_id, "wall.remove")
            if r.access.allows(Action.APPROVAL_REQUEST, workspace_id)
            else []
        )
        two_person = approvals.is_required(r, workspace_id)
        groups: dict[str, str] = {}
        for edge in edges:
            for holder in edge.holders:
                if holder.startswith("group:") and holder not in groups:
                    group = workforce_store.find_group(r.tx, holder.removeprefix("group:"))
                    groups[holder] = group.name if group else holder.removeprefix("group:")
    scheduled = {(row.workspace_a, row.workspace_b, row.holder): row.lifts_at for row in rows}
    me = ctx.actor.user_id
    walls = []
    for edge in edges:
        other = edge.other(workspace_id)
        holders = []
        for holder in edge.holders:
            due = scheduled.get((edge.a, edge.b, holder))
            kind = "self" if holder == workspace_id else "competitor" if holder == other else "group"
            holders.append(
                {
                    "holder": holder,
                    "kind": kind,
                    "name": groups.get(holder, ""),
                    "withdrawal_effective_at": due,
                }
            )
        mine = next((h for h in holders if h["kind"] == "self"), None)
        removal: dict[str, Any] | None = None
        if mine is not None:
            asked = [a for a in requests if a["params"] == {"competitor": other}]
            approved = next((a for a in asked if a["state"] == "approved" and a["requested_by"] == me), None)
            if mine["withdrawal_effective_at"] is not None:
                removal = {"state": "scheduled", "effective_at": mine["withdrawal_effective_at"]}
            elif approved is not None:
                removal = {"state": "approved", "approval": approved["id"]}
            elif any(a["state"] == "approved" for a in asked):
                removal = {"state": "approved_for_another"}  # the owner who asked withdraws it
            elif asked:
                removal = {"state": "pending", "approval": asked[0]["id"], "mine": asked[0]["requested_by"] == me}
            else:
                removal = {"state": "held"}
        theirs = next((h for h in holders if h["kind"] == "competitor" and h["withdrawal_effective_at"]), None)
        walls.append(
            {
                "competitor": other,
                "name": known.get(other),
                "cooling_off_ms": edge.cooling_off_ms,
                "since": edge.since,
                "lifts_at": edge.lifts_at,
                "holders": holders,
                "removal": removal,
                "consent": theirs["withdrawal_effective_at"] if theirs else None,
            }
        )
    return {
        "walls": walls,
        "exclusions": [{"org": e.org, "kind": e.kind} for e in exclusions],
        "choices": sorted(known.values(), key=str.casefold),
        "may_manage": may_manage,
        "two_person": two_person,
    }


def competitor_ties(w: Unit, user_id: str, workspace_id: str) -> list[str]:
    """The competitors of a workspace that a person belongs to or holds live history with."""
    edges = workforce_store.list_edges(w.tx, workspace_id)
    if not edges:
        return []
    others = sorted({edge.other(workspace_id) for edge in edges})
    # The person's standing with the competitors, which whoever adds them cannot see otherwise (row-level
    # security): this one query reads the competitors' memberships, and their history with them.
    with w.acting_in(others):
        member_of = memberships_store.list_workspace_ids_among(w.tx, user_id, others)
    with w.wall_check_scope(others):
        past = workforce_store.list_history(w.tx, user_id)
    ties = []
    for edge in edges:
        other = edge.other(workspace_id)
        history = past.get(other)
        if other in member_of or (history is not None and is_live(history, edge, w.now)):
            ties.append(other)
    return sorted(ties)


def create_group(ctx: Context, name: str, *, cooling_off_days: float | None = None) -> str:
    """A sector group: every pair of its workspaces conflicts (platform admins)."""
    if not name or len(name) > 200:
        raise InvalidInput("name: 1 to 200 characters")
    with ctx.write() as w:
        w.access.require_admin("workforce.manage")
        if workforce_store.group_name_taken(w.tx, name):
            raise Conflict(f"name: a group named {name!r} exists")
        group_id = ids.new_id("grp")
        workforce_store.insert_group(w.tx, group_id, name=name, cooling_off_ms=_cooling_ms(cooling_off_days), now=w.now)
        return group_id


def _group(w: Unit, group_ref: str) -> Group:
    group = workforce_store.find_group(w.tx, group_ref)
    if group is None:
        raise NotFound("group not found")
    return group


def add_to_group(ctx: Context, group_ref: str, workspace_id: str) -> int:
    """Add a workspace to a sector group: it now conflicts with every other member."""
    with ctx.write() as w:
        w.access.require_admin("workforce.manage")
        group = _group(w, group_ref)
        members = workforce_store.list_group_workspace_ids(w.tx, group.id)
        if workspace_id in members:
            return 0
        workforce_store.insert_group_member(w.tx, group.id, workspace_id)  # NotFound: no such workspace
        return sum(_hold(w, workspace_id, other, f"group:{group.id}", group.cooling_off_ms) for other in members)


def remove_from_group(
    ctx: Context, group_ref: str, workspace_id: str, *, approval: str | None = None, break_glass: str | None = None
) -> dict:
    """Take a workspace out of a sector group (platform admins, two-person approval among admins).

    Its walls with the group's other members are withdrawn like a declaration:
    they fall after the waiting period, unless another holder keeps them.
    """
    with ctx.write() as w:
        w.access.require_admin("workforce.manage")
        group = _group(w, group_ref)
        members = workforce_store.list_group_workspace_ids(w.tx, group.id)
        if workspace_id not in members:
            raise NotFound("this workspace is not in the group")
        holder = f"group:{group.id}"
        used = approvals.consume(
            w, "wall.remove", workspace_id, {"group": group.id}, approval_id=approval, break_glass=break_glass
        )
        workforce_store.delete_group_member(w.tx, group.id, workspace_id)
        w.audit(workspace_id, "wall.group_left", group.id, approval=used)
        withdrawn = []
        for other in members:
            if other == workspace_id:
                continue
            lo, hi = _pair(workspace_id, other)
            if any(d.holder == holder and d.lifts_at is None for d in _declarations(w, lo, hi)):
                withdrawn.append({"competitor": other, **_withdraw(w, lo, hi, holder, approval=used)})
        return {"group": group.id, "workspace": workspace_id, "withdrawn": withdrawn}


def delete_group(ctx: Context, group_ref: str) -> None:
    """Delete an empty sector group (platform admins): its walls go only with its workspaces, one by one."""
    with ctx.write() as w:
        w.access.require_admin("workforce.manage")
        group = _group(w, group_ref)
        if workforce_store.has_group_members(w.tx, group.id):
            raise Conflict(
                "this group still has workspaces: take each out first (each with two-person approval; "
                "bastion walls ungroup)"
            )
        workforce_store.delete_group(w.tx, group.id)


# -- people: history, affiliations, declared sides ---------------------------------


def _history_entry(
    w: Unit, user_id: str, workspace_id: str, source: str, first_at: int, last_at: int, approved_by: str | None
) -> None:
    workforce_store.lock_person(w.tx, user_id)
    history = workforce_store.list_history(w.tx, user_id)
    decision = decide(workspace_id, history, workforce_store.list_edges(w.tx, workspace_id), (), (), w.now)
    if not decision.allowed:
        raise Conflict(
            "this person already has live history on a conflicting workspace: "
            + "; ".join(r.message for r in decision.reasons)
        )
    workforce_store.replace_history(
        w.tx, user_id, workspace_id, first_at=first_at, last_at=last_at, source=source, approved_by=approved_by
    )


def declare_side(ctx: Context, person: str, workspace_id: str, *, approved_by: str) -> None:
    """Bind a person to one side of a conflict up front, with the client's approval recorded."""
    if not approved_by or len(approved_by) > 200:
        raise InvalidInput("approved_by: who at the client approved this (1 to 200 characters)")
    with ctx.write() as w:
        w.access.require_admin("workforce.manage")
        row = _person(w, person)
        _history_entry(w, row.id, workspace_id, "declared", w.now, w.now, approved_by)
        w.audit(workspace_id, "wall.side_declared", row.id, approved_by=approved_by)


def record_prior_employment(
    ctx: Context, person: str, workspace_id: str, *, since: int | None, until: int | None
) -> None:
    """Enter prior work for a client as history (its cooling-off counts from ``until``)."""
    with ctx.write() as w:
        w.access.require_admin("workforce.manage")
        row = _person(w, person)
        end = until if until is not None else w.now
        _history_entry(w, row.id, workspace_id, "prior", since if since is not None else end, end, None)
        if workspaces_store.workspace_exists(w.tx, workspace_id):
            w.audit(workspace_id, "wall.prior_recorded", row.id, until=end)


def history(ctx: Context, person: str) -> list[dict]:
    with ctx.read() as r:
        row = _person_for(r, person)
        rows = workforce_store.list_history_records(r.tx, row.id)
    return [
        {
            "workspace_id": h.workspace_id,
            "first_at": h.first_at,
            "last_at": h.last_at,
            "source": h.source,
            "approved_by": h.approved_by,
        }
        for h in rows
    ]


def add_affiliation(
    ctx: Context, person: str, org: str, kind: str, *, since: int | None = None, until: int | None = None
) -> dict:
    """Record a tie (employer, investor, …). Workspaces excluding it lose the person at once."""
    if kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}")
    if not org or not org.strip() or len(org) > 200:
        raise InvalidInput("org: the organisation's name (1 to 200 characters)")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until: must be after since")
    with ctx.write() as w:
        row = _person_for(w, person)
        if ctx.actor.read_only:
            w.access.require_admin("workforce.manage")
        aff_id = ids.new_id("aff")
        workforce_store.insert_affiliation(
            w.tx,
            aff_id,
            row.id,
            org=org.strip(),
            org_key=normalise_org(org),
            kind=kind,
            since=since,
            until=until,
            now=w.now,
        )
        tie = Affiliation(org, kind, since, until)
        released = 0
        for workspace_id in _member_workspaces(w, row.id):
            w.audit(workspace_id, "person.affiliation_added", row.id, org=org.strip(), kind=kind)
            if tie.current(w.now) and any(e.matches(tie) for e in workforce_store.list_exclusions(w.tx, workspace_id)):
                released += release_leases(w, row.id, workspace_id, reason="excluded affiliation")
        return {"id": aff_id, "released_leases": released}


def list_affiliations(ctx: Context, person: str) -> list[dict]:
    with ctx.read() as r:
        row = _person_for(r, person)
        rows = workforce_store.list_affiliation_records(r.tx, row.id)
    return [{"id": a.id, "org": a.org, "kind": a.kind, "since": a.since, "until": a.until} for a in rows]


def release_leases(w: Unit, user_id: str, workspace_id: str, *, reason: str, project_id: str | None = None) -> int:
    """End a person's open leases in a workspace (or one project) now: their slots return to the pool."""
    with w.acting_in((workspace_id,)):  # a platform admin's change may end leases where the admin is no member
        count = queue_store.release_leases(w.tx, workspace_id, user_id, project_id=project_id)
    if count:
        w.audit(workspace_id, "wall.leases_released", user_id, count=count, reason=reason)
    return count


def add_exclusion(ctx: Context, workspace_id: str, org: str, kind: str | None = None) -> int:
    """Exclude everyone tied to an organisation (optionally only one kind of tie)."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)} (or none: any tie)")
    if not org or not org.strip() or len(org) > 200:
        raise InvalidInput("org: the organisation's name (1 to 200 characters)")
    with ctx.write() as w:
        w.access.require(Action.WALLS_MANAGE, workspace_id)
        workforce_store.insert_exclusion(
            w.tx, workspace_id, org_key=normalise_org(org), kind=kind or "", org=org.strip(), now=w.now
        )
        w.audit(workspace_id, "wall.exclusion_added", None, org=org.strip(), kind=kind)
        rule = Exclusion(org, kind)
        released = 0
        for user_id in memberships_store.list_user_ids(w.tx, workspace_id):
            if any(a.current(w.now) and rule.matches(a) for a in workforce_store.list_affiliations(w.tx, user_id)):
                released += release_leases(w, user_id, workspace_id, reason="excluded affiliation")
        return released


def remove_exclusion(ctx: Context, workspace_id: str, org: str, kind: str | None = None) -> None:
    with ctx.write() as w:
        w.access.require(Action.WALLS_MANAGE, workspace_id)
        if not workforce_store.delete_exclusion(w.tx, workspace_id, org_key=normalise_org(org), kind=kind or ""):
            raise NotFound("no such exclusion")
        w.audit(workspace_id, "wall.exclusion_removed", None, org=org, kind=kind)


def list_exclusions(ctx: Context, workspace_id: str) -> list[dict]:
    with ctx.read() as r:
        r.access.require(Action.WALLS_READ, workspace_id)
        return [{"org": e.org, "kind": e.kind} for e in workforce_store.list_exclusions(r.tx, workspace_id)]


def is_excluded(w: Unit, user_id: str, workspace_id: str) -> bool:
    rules = workforce_store.list_exclusions(w.tx, workspace_id)
    return any(
        a.current(w.now) and rule.matches(a) for rule in rules for a in workforce_store.list_affiliations(w.tx, user_id)
    )


# -- explanations ------------------------------------------------------------------


def explain(ctx: Context, person: str, workspace_id: str) -> dict[str, Any]:
    """Why may (or may not) this person see this workspace's data — which edge, which history, since when.

    Who may ask about whom, and what they learn (docs/walls.md, "Explanations"):

    * platform admins, about anyone, and a person about themselves (in a workspace
      they belong to): the whole decision, history dates included;
    * the workspace's wall readers (owners, managers, auditors), about its **members**
      only: each reason's kind, the edge (the competitor A's own conflict list names),
      when a cooling-off wall lifts and the excluded tie — never when or how the
      person came to work for the other side (history entries, dates, sources);
    * about anyone else — a stranger, an unknown e-mail or id — the same 404 as for a
      person who does not exist, whatever the caller's role.

    Every answer is audited in the workspace's log (``wall.explained``: whom, allowed).
    """
    with ctx.write() as w:
        actor = ctx.actor
        # The workspace first: outside it, nothing about people is told.
        w.access.require(Action.WORKSPACE_READ, workspace_id)
        if not workspaces_store.workspace_exists(w.tx, workspace_id):
            raise NotFound("workspace not found")  # platform admins pass the role check for any id
        row = _person_or_none(w, person)
        full = actor.is_admin or (row is not None and row.id == actor.user_id)
        member = None if row is None else memberships_store.find_role(w.tx, workspace_id, row.id)
        if not full:
            w.access.require(Action.WALLS_READ, workspace_id)
            if member is None:
                raise NotFound("person not found")  # unknown and non-member alike
        if row is None:
            raise NotFound("person not found")
        edges = workforce_store.list_edges(w.tx, workspace_id)
        with w.wall_check_scope([workspace_id, *(e.other(workspace_id) for e in edges)]):
            history = workforce_store.list_history(w.tx, row.id)
        decision = decide(
            workspace_id,
            history,
            edges,
            workforce_store.list_affiliations(w.tx, row.id),
            workforce_store.list_exclusions(w.tx, workspace_id),
            w.now,
        )
        w.audit(workspace_id, "wall.explained", row.id, allowed=decision.allowed and member is not None)
    reasons = [_reason_out(reason, workspace_id, full) for reason in decision.reasons]
    return {
        "person": row.id,
        "email": row.email,
        "workspace_id": workspace_id,
        "member_role": member,
        "allowed": decision.allowed and member is not None,
        "walls_allow": decision.allowed,
        "reasons": reasons
        if member is not None
        else [{"kind": "not_member", "message": "not a member of this workspace"}] + reasons,
        "lifted": [e.other(workspace_id) for e in decision.lifted],
    }


def _person_or_none(w: Unit, ref: str) -> User | None:
    try:
        return _person(w, ref)
    except NotFound:
        return None


def _reason_out(reason, workspace_id: str, full: bool) -> dict[str, Any]:
    """One reason of an explanation; ``full`` adds what only admins and the person may see."""
    item: dict[str, Any] = {"kind": reason.kind, "message": reason.message}
    if reason.edge is not None:
        item["edge"] = {
            "other_workspace": reason.edge.other(workspace_id),
            "since": reason.edge.since,
            "cooling_off_ms": reason.edge.cooling_off_ms,
            "source": reason.edge.source,
        }
    if reason.history is not None:
        h = reason.history
        if reason.edge is not None and reason.edge.cooling_off_ms is not None:
            item["lifts_at"] = h.last_at + reason.edge.cooling_off_ms
        if full or h.workspace_id == workspace_id:
            item["history"] = {
                "workspace_id": h.workspace_id,
                "first_at": h.first_at,
                "last_at": h.last_at,
                "source": h.source,
            }
        elif reason.kind == "wall":
            item["message"] = "has worked on a conflicting workspace (the other side of this edge)"
    if reason.affiliation is not None:
        a = reason.affiliation
        item["affiliation"] = {"org": a.org, "kind": a.kind}
        if full:
            item["affiliation"].update(since=a.since, until=a.until)
    return item


# -- skills ----------------------------------------------------------------------


def grant_skill(ctx: Context, person: str, skill: str, *, source: str = "granted") -> dict:
    try:
        name, level = parse_skill(skill)
    except ValueError as exc:
        raise InvalidInput(f"skill: {exc}") from exc
    with ctx.write() as w:
        if source == "granted":
            w.access.require_admin("workforce.manage")
        row = _person(w, person)
        workforce_store.replace_skill(w.tx, row.id, name, level=level, source=source, now=w.now)
        for workspace_id in _member_workspaces(w, row.id):
            w.audit(workspace_id, "person.skill_granted", row.id, skill=name, level=level, source=source)
        return {"skill": name, "level": level}


def revoke_skill(ctx: Context, person: str, skill: str) -> None:
    name = skill.split(":", 1)[0]
    with ctx.write() as w:
        w.access.require_admin("workforce.manage")
        row = _person(w, person)
        if not workforce_store.delete_skill(w.tx, row.id, name):
            raise NotFound("this person does not hold that skill")
        for workspace_id in _member_workspaces(w, row.id):
            w.audit(workspace_id, "person.skill_revoked", row.id, skill=name)


def skills_of(w: Unit, user_id: str) -> dict[str, int]:
    return workforce_store.list_skill_levels(w.tx, user_id)


def list_skills(ctx: Context, person: str) -> list[dict]:
    with ctx.read() as r:
        row = _person_for(r, person)
        rows = workforce_store.list_skills(r.tx, row.id)
    return [{"skill": s.skill, "level": s.level, "source": s.source, "granted_at": s.granted_at} for s in rows]


__all__ = [
    "add_affiliation",
    "add_conflict",
    "add_exclusion",
    "add_to_group",
    "competitor_ties",
    "consent_removal",
    "create_group",
    "declare_side",
    "delete_group",
    "explain",
    "grant_skill",
    "history",
    "is_excluded",
    "list_affiliations",
    "list_conflicts",
    "list_exclusions",
    "list_skills",
    "record_prior_employment",
    "release_leases",
    "remove_conflict",
    "remove_exclusion",
    "remove_from_group",
    "revoke_skill",
    "skills_of",
]
