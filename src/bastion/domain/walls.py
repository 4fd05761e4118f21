"""Conflict-of-interest walls (Brewer–Nash, on Lin's conflict graph), as pure rules.

Conflicts are edges between workspaces: symmetric, **not** transitive (A may
compete with B and with C while B and C do not). A person's *history* is the
set of workspaces whose data they have been shown (or were bound to by an admin,
or worked for before: prior employment). The rule:

    a person may see workspace W's data only if, for every edge (W, X), they
    have no *live* history with X,

where history with X is live for the edge (W, X) until ``cooling_off_ms`` after
their last access to X (never expiring by default). With empty history on
both sides, the first access binds. Independently, a workspace may exclude
affiliations (organisation, optionally a kind such as ``investor``): a person
holding such an affiliation, current at that moment, sees none of its data.

An edge is held up by *declarations* (``Declaration``): the workspace that declared
it, the other side if it declared it too, sector groups. ``combine`` turns those
holding at an instant into edges; a withdrawal only takes away its own holder, and
only once its scheduled instant has passed.

``decide`` is the one decision function; the access module loads the slice of
state it needs (the person's history and affiliations, the workspace's edges
and exclusions) inside the transaction, under a lock on the person, and calls it.

The invariant this keeps (tested over random graphs and traces): no person
ever holds live history on both ends of an edge.

The trap: having history with W does not by itself allow W. A person whose
history with X cooled off may have bound to W since; if they come back to X,
W's history is live and X is walled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime


def when(ms: int) -> str:
    """An instant as people read it in a refusal or an explanation: ``3 March 2025, 14:02 UTC``.

    Refusals and explanations speak in dates, never in the milliseconds the rows hold.
    """
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def normalise_org(name: str) -> str:
    """Organisations compare case-insensitively, whitespace collapsed."""
    return " ".join((name or "").split()).casefold()


@dataclass(frozen=True, slots=True)
class Edge:
    a: str
    b: str
    cooling_off_ms: int | None = None  # None: the wall never lifts
    since: int = 0
    source: str = "declared"  # "declared" by an owner, or "group:<id>" from a sector group
    holders: tuple[str, ...] = ()  # who holds it up: declaring workspaces' ids, "group:<id>"
    lifts_at: int | None = None  # every holder's withdrawal is scheduled: the wall falls at this instant

    def other(self, workspace_id: str) -> str:
        return self.b if workspace_id == self.a else self.a


@dataclass(frozen=True, slots=True)
class Declaration:
    """One holder of a wall: the workspace that declared it, or a sector group ("group:<id>").

    An edge stands while any of its declarations holds. A withdrawal is never
    immediate by default: it is scheduled (``lifts_at``) and the declaration holds
    until then.
    """

    a: str
    b: str
    holder: str
    cooling_off_ms: int | None = None
    since: int = 0
    lifts_at: int | None = None

    @property
    def is_group(self) -> bool:
        return self.holder.startswith("group:")

    def holds(self, now: int) -> bool:
        return self.lifts_at is None or now < self.lifts_at


def combine(declarations: Iterable[Declaration], now: int) -> list[Edge]:
    """The edges standing at ``now``: one per pair, as strict as its strictest holding declaration.

    Cooling-off: never (None) if any holder says never, else the longest. ``lifts_at``
    is set only when every holder's withdrawal is scheduled (the latest of them).
    """
    pairs: dict[tuple[str, str], list[Declaration]] = {}
    for declaration in declarations:
        if declaration.holds(now):
            pairs.setdefault((declaration.a, declaration.b), []).append(declaration)
    edges = []
    for (a, b), held in pairs.items():
        held.sort(key=lambda d: (d.is_group, d.holder))
        coolings = [d.cooling_off_ms for d in held]
        cooling = None if None in coolings else max(c for c in coolings if c is not None)
        scheduled = [d.lifts_at for d in held if d.lifts_at is not None]
        declared = [d for d in held if not d.is_group]
        edges.append(
            Edge(
                a,
                b,
                cooling,
                min(d.since for d in held),
                "declared" if declared else held[0].holder,
                tuple(d.holder for d in held),
                max(scheduled) if len(scheduled) == len(held) else None,
            )
        )
    return edges


@dataclass(frozen=True, slots=True)
class History:
    workspace_id: str
    first_at: int
    last_at: int
    source: str = "access"  # access | declared | prior


@dataclass(frozen=True, slots=True)
class Affiliation:
    org: str
    kind: str  # employer | investor | contractor | …
    since: int | None = None
    until: int | None = None

    def current(self, now: int) -> bool:
        return (self.since is None or self.since <= now) and (self.until is None or now < self.until)


@dataclass(frozen=True, slots=True)
class Exclusion:
    org: str
    kind: str | None = None  # None: any kind of tie

    def matches(self, affiliation: Affiliation) -> bool:
        return normalise_org(affiliation.org) == normalise_org(self.org) and (
            self.kind is None or self.kind == affiliation.kind
        )


def is_live(history: History, edge: Edge, now: int) -> bool:
    return edge.cooling_off_ms is None or history.last_at + edge.cooling_off_ms > now


@dataclass(frozen=True, slots=True)
class Reason:
    """One line of an explanation: what allows or blocks access, and since when."""

    kind: str  # wall | excluded | bound | first_access | lifted | clear
    message: str
    edge: Edge | None = None
    history: History | None = None
    affiliation: Affiliation | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...] = field(default_factory=tuple)
    binds: bool = False  # first access: a new history entry is made
    lifted: tuple[Edge, ...] = ()  # edges whose wall cooled off and no longer blocks


def decide(
    workspace_id: str,
    history: Mapping[str, History],
    edges: Iterable[Edge],
    affiliations: Iterable[Affiliation],
    exclusions: Iterable[Exclusion],
    now: int,
) -> Decision:
    """May this person see ``workspace_id``'s data now? ``edges`` are those touching it."""
    blocked: list[Reason] = []
    lifted: list[Edge] = []
    for exclusion in exclusions:
        for affiliation in affiliations:
            if affiliation.current(now) and exclusion.matches(affiliation):
                kind = f" ({exclusion.kind})" if exclusion.kind else ""
                blocked.append(
                    Reason(
                        "excluded",
                        f"affiliated with {affiliation.org}{kind}, which this workspace excludes",
                        affiliation=affiliation,
                    )
                )
    for edge in edges:
        other = edge.other(workspace_id)
        if other == workspace_id:
            continue
        past = history.get(other)
        if past is None:
            continue
        if is_live(past, edge, now):
            blocked.append(
                Reason(
                    "wall",
                    f"has worked on a conflicting workspace since {when(past.first_at)}",
                    edge=edge,
                    history=past,
                )
            )
        else:
            lifted.append(edge)
    if blocked:
        return Decision(False, tuple(blocked))
    mine = history.get(workspace_id)
    if mine is None:
        reasons = (Reason("first_access", "no conflicting history: this first access binds"),)
        return Decision(True, reasons, binds=True, lifted=tuple(lifted))
    reasons = (Reason("bound", f"already works on this workspace (since {when(mine.first_at)})", history=mine),)
    return Decision(True, reasons, lifted=tuple(lifted))


def both_sides(
    histories: Mapping[str, Mapping[str, History]], edges: Iterable[Edge], now: int
) -> list[tuple[str, Edge]]:
    """People holding live history on both ends of an edge (must always be empty)."""
    found = []
    for edge in edges:
        for person, history in histories.items():
            a, b = history.get(edge.a), history.get(edge.b)
            if a is not None and b is not None and is_live(a, edge, now) and is_live(b, edge, now):
                found.append((person, edge))
    return found
