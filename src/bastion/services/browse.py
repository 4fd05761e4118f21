"""The data browser: find a project's tasks by their words, meta, labels, state, people and agreement.

One call (``browse``) checks the filters, finds a page, opens its tasks and audits the
read (``tasks.listed`` with the count, the first and last id and the *names* of the
filters used — never their values, which can quote content). Who may browse is the
access module's ``task.browse``; owners see each task's original data, everyone else
the wording variant they are always shown (services/variants.py).

How a page is found:

* **search terms** (words, ``meta:key=value``) go through the keyed blind index
  (``domain/search.py``): the query's tokens are hashed under each key the project's
  index was written with, the postings of every term are intersected block by block,
  and the candidate ids come out in id order — then the other filters are checked on
  them in chunks (``storage/browse_store.py``) until the page is full. In id order this
  reads only the blocks the page needs; in another order every candidate is gathered
  first (a common word then costs a scan of the project in that order);
* **labels** are their own rows of the index (one per label and task), read in id order
  and intersected with the terms' candidates (leapfrog); the clear filters (state, gold,
  annotator, review, agreement, import, dates) are conditions of the page's query;
* **the order**: id (creation; the default), priority or annotation count (highest first),
  agreement (lowest first; tasks that have one). Pages are keyset pages (``cursor``).

The trap: a filter's value must never reach the audit log or an error message that
is logged — only its name.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .context import Context, Unit
from .projects import work_project
from .search import TokenHashes, hashes_for
from .tasks import task_dict
from .. import ids
from ..access import Action
from ..domain import search
from ..domain.errors import InvalidInput, NotFound, PermissionDenied
from ..domain.projects import Project
from ..domain.workspaces import Role
from ..storage import browse_store, search_store
from ..storage.browse_store import BrowseRow, Person, Where
from ..storage.search_store import ImportSummary

PAGE = 50
MAX_PAGE = 200
STATES = ("open", "done", "held", "gold")
REVIEWS = ("pending", "accepted", "rejected", "corrected", "none")
SORTS = browse_store.SORTS
MAX_META_FILTERS = 5
# Ids are time-ordered (ids.py): a date range becomes an id range to scan. An id is made
# before its task is written, so tasks written at T have ids from a little before T.
ID_SLACK_MS = 3600 * 1000
# In an order other than id, up to this many candidates of a search are checked by id
# lists; more, and the project is read in that order, keeping the candidates.
MAX_CHECKED_BY_ID = 20_000
PREVIEW_CHARS = 160


@dataclass(frozen=True, slots=True)
class BrowseQuery:
    """The browser's filters, checked (``parse_query`` makes one from a form or query string)."""

    q: str = ""
    state: str | None = None
    annotator: str | None = None  # an e-mail address of one of the workspace's people
    label: str | None = None
    agreement_below: float | None = None
    gold: bool | None = None
    review: str | None = None
    meta: tuple[str, ...] = ()
    import_id: str | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    sort: str = "id"
    cursor: str | None = None
    limit: int = PAGE

    def used(self) -> list[str]:
        """The names of the filters given (what the audit records)."""
        names = ("q", "state", "annotator", "label", "agreement_below", "gold", "review", "meta", "import_id")
        out = [name for name in names if getattr(self, name) not in (None, "", ())]
        out += [name for name in ("created_from", "created_to") if getattr(self, name) is not None]
        return out


def _one(params: Mapping[str, Any], name: str, max_chars: int = 200) -> str | None:
    value = params.get(name)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: text expected")
    value = value.strip()
    if len(value) > max_chars:
        raise InvalidInput(f"{name}: at most {max_chars} characters")
    return value or None


def _choice(params: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str | None:
    value = _one(params, name)
    if value is not None and value not in choices:
        raise InvalidInput(f"{name}: one of {', '.join(choices)}")
    return value


def _date(params: Mapping[str, Any], name: str) -> dt.date | None:
    value = _one(params, name, 10)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}: a date like 2026-01-31") from None


def parse_query(params: Mapping[str, Any]) -> BrowseQuery:
    """The browser's filters from a query string's values (a list where a name repeats: ``meta``);
    InvalidInput naming the field when one is wrong. Empty values mean "any"."""
    below = _one(params, "agreement_below", 20)
    agreement_below = None
    if below is not None:
        try:
            agreement_below = float(below)
        except ValueError:
            raise InvalidInput("agreement_below: a number from 0 to 1") from None
        if not (math.isfinite(agreement_below) and 0 <= agreement_below <= 1):
            raise InvalidInput("agreement_below: a number from 0 to 1")
    gold = _choice(params, "gold", ("yes", "no"))
    raw_meta = params.get("meta") or ()
    metas = [raw_meta] if isinstance(raw_meta, str) else list(raw_meta)
    if not all(isinstance(m, str) for m in metas):
        raise InvalidInput("meta: key=value text expected")
    metas = [m.strip() for m in metas if m.strip()]
    if len(metas) > MAX_META_FILTERS:
        raise InvalidInput(f"meta: at most {MAX_META_FILTERS} key=value filters")
    for pair in metas:
        if len(pair) > 400 or "=" not in pair or not pair.partition("=")[0].strip():
            raise InvalidInput(f"meta: key=value expected (like lang=fr), not {pair[:40]!r}")
    import_id = _one(params, "import", 60)
    if import_id is not None and not ids.has_prefix(import_id, "imp"):
        raise InvalidInput("import: an import id (imp_…) from this project's imports")
    limit_text = _one(params, "limit", 4)
    limit = PAGE
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise InvalidInput(f"limit: from 1 to {MAX_PAGE}")
        limit = int(limit_text)
    created_from, created_to = _date(params, "created_from"), _date(params, "created_to")
    if created_from and created_to and created_from > created_to:
        raise InvalidInput("created_to: before created_from")
    return BrowseQuery(
        q=_one(params, "q", 1000) or "",
        state=_choice(params, "state", STATES),
        annotator=_one(params, "annotator", 320),
        label=_one(params, "label"),
        agreement_below=agreement_below,
        gold=None if gold is None else gold == "yes",
        review=_choice(params, "review", REVIEWS),
        meta=tuple(metas),
        import_id=import_id,
        created_from=created_from,
        created_to=created_to,
        sort=_choice(params, "sort", SORTS) or "id",
        cursor=_one(params, "cursor", 100),
        limit=limit,
    )


@dataclass
class BrowsePage:
    """A page of the browser: the rows, the cursor of the next page, and what the form offers."""

    project: Project
    query: BrowseQuery
    items: list[dict[str, Any]]
    next_cursor: str | None
    people: list[Person] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    imports: list[ImportSummary] = field(default_factory=list)
    originals: bool = False  # the rows show the original data (an owner), not the reader's variant
    reindex_since: int | None = None  # the index lacks tasks imported before this (bastion task reindex)
    error: str | None = None  # a filter was refused (``keep_errors``): no rows, the form to correct it


def browse(
    ctx: Context, project_id: str, query: BrowseQuery | Mapping[str, Any], *, keep_errors: bool = False
) -> BrowsePage:
    """A page of the project's tasks that match ``query`` (see the module docstring); audited.

    A filter that is wrong raises InvalidInput naming it — or, with ``keep_errors`` (the page,
    which shows the form again with the message), comes back as ``error`` with no rows.
    """
    error = None
    if not isinstance(query, BrowseQuery):
        try:
            query = parse_query(query)
        except InvalidInput as exc:
            if not keep_errors:
                raise
            query, error = BrowseQuery(), exc.message
    with ctx.write() as w:
        project = work_project(w, project_id, Action.TASK_BROWSE)
        ws = project.workspace_id
        if query.state == "held" and not w.access.allows(Action.REDACTION_REVIEW, ws):
            raise PermissionDenied("held tasks wait for an owner's review: only owners list them")
        task_type = ctx.rt.task_types.get(project.task_type)
        config = task_type.parse_config(project.config)
        people = browse_store.workspace_people(w.tx, ws)
        page = BrowsePage(
            project,
            query,
            [],
            None,
            people=people,
            labels=task_type.label_values(config),
            imports=search_store.list_imports(w.tx, ws, project.id),
            originals=ctx.actor.is_system or w.access.role(ws) is Role.OWNER,
            reindex_since=search_store.reindex_needed_since(w.tx, ws, project.id),
        )
        if error is not None:
            page.error = error
            return page
        try:
            rows, page.next_cursor = _find(w, project, query, people)
        except InvalidInput as exc:
            if not keep_errors:
                raise
            page.error = exc.message
            return page
        page.items = [_item(w, project, row, config, original=page.originals) for row in rows]
        if page.items or query.used():
            w.audit(
                ws,
                "tasks.listed",
                project.id,
                count=len(page.items),
                first=page.items[0]["id"] if page.items else None,
                last=page.items[-1]["id"] if page.items else None,
                filters=query.used(),
                sort=query.sort,
            )
        return page


# -- finding the page -------------------------------------------------------------------------------


def _hashers(w: Unit, project: Project) -> list[TokenHashes]:
    """The token hashers of every key the project's index was written under (destroyed keys left out:
    what they hashed is noise now)."""
    ws = project.workspace_id
    out = []
    for key_id in dict.fromkeys([project.key_id, *search_store.list_keys(w.tx, ws, project.id)]):
        try:
            out.append(hashes_for(w, ws, key_id))
        except NotFound:
            continue
    return out


def _where(w: Unit, project: Project, query: BrowseQuery, people: list[Person], hashers) -> tuple[Where, search.Query]:
    try:
        parsed = search.query_terms(query.q, meta=query.meta, labels=[query.label] if query.label else [])
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    annotator_id = None
    if query.annotator is not None:
        wanted = query.annotator.lower()
        match = next((p for p in people if p.email.lower() == wanted), None)
        if match is None:
            raise InvalidInput("annotator: not one of this workspace's people (give their e-mail address)")
        annotator_id = match.user_id
    id_from, id_to = "", None
    if query.import_id is not None:
        found = search_store.import_range(w.tx, project.workspace_id, project.id, query.import_id)
        if found is None:
            raise InvalidInput("import: not one of this project's imports")
        id_from, id_to = found
    created_from = created_to = None
    if query.created_from is not None:
        created_from = _day_ms(query.created_from)
        id_from = max(id_from, _id_at(created_from - ID_SLACK_MS))
    if query.created_to is not None:
        created_to = _day_ms(query.created_to + dt.timedelta(days=1)) - 1
        ceiling = _id_at(created_to + 1)
        id_to = ceiling if id_to is None else min(id_to, ceiling)
    labels = tuple(tuple(h(token) for h in hashers) for token in parsed.labels)
    where = Where(
        state=query.state,
        gold=query.gold,
        annotator_id=annotator_id,
        review=query.review,
        labels=labels,
        agreement_below=query.agreement_below,
        import_id=query.import_id,
        id_from=id_from,
        id_to=id_to,
        created_from=created_from,
        created_to=created_to,
    )
    return where, parsed


def _day_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _id_at(ms: int) -> str:
    """The lowest task id made at ``ms`` (ids.py: 48 bits of milliseconds, then random bits)."""
    return "tsk_" + max(0, ms).to_bytes(6, "big").hex() + "0" * 20


def _cursor(query: BrowseQuery) -> tuple[Any, str] | None:
    cursor = query.cursor
    if cursor is None:
        return None
    bad = InvalidInput("cursor: not a cursor of this listing (start again from the first page)")
    value_text, sep, task_id = cursor.rpartition("~")
    if not ids.has_prefix(task_id, "tsk") or (query.sort == "id") == bool(sep):
        raise bad
    if query.sort == "id":
        return None, task_id
    try:
        value: Any = float(value_text) if query.sort == "agreement" else int(value_text)
    except ValueError:
        raise bad from None
    return value, task_id


def _next_cursor(row: BrowseRow, sort: str) -> str:
    if sort == "id":
        return row.id
    return f"{browse_store.sort_value(row, sort)!r}~{row.id}"


def _find(w: Unit, project: Project, query: BrowseQuery, people: list[Person]) -> tuple[list[BrowseRow], str | None]:
    hashers = _hashers(w, project)
    where, parsed = _where(w, project, query, people, hashers)
    after = _cursor(query)
    ws, limit, sort = project.workspace_id, query.limit, query.sort
    if not parsed.terms and not where.labels:
        rows = browse_store.page(w.tx, ws, project.id, where, sort=sort, after=after, limit=limit + 1)
    else:
        # The index gives candidates in id order (words and meta from the posting blocks, each label
        # from its rows); the page's query checks the other filters on them by primary key.
        start = after[1] if after and sort == "id" else ""
        streams = [_labelled(w, project, hashes, after=start) for hashes in where.labels]
        if parsed.terms:
            streams.insert(0, _candidates(w, project, parsed.terms, hashers, after=start))
        where = where._replace(labels=())
        found = search.intersect_sorted(streams)
        if sort == "id":
            rows = _by_id(w, project, where, found, limit + 1)
        else:
            rows = _in_order(w, project, where, list(found), sort, after, limit + 1)
    if len(rows) > limit:
        return rows[:limit], _next_cursor(rows[limit - 1], sort)
    return rows, None


def _candidates(w: Unit, project: Project, terms: tuple[bytes, ...], hashers, *, after: str) -> Iterator[str]:
    """The ids of the live tasks whose index holds every term, ascending (``domain/search.candidates``)."""
    ws = project.workspace_id
    digests = [[h(term) for h in hashers] for term in terms]
    rows = search_store.postings_in(w.tx, ws, project.id, {d[0] for ds in digests for d in ds})
    postings: list[dict[str, list[bytes]]] = []
    for term_digests in digests:
        by_block: dict[str, list[bytes]] = {}
        for bucket in dict.fromkeys(d[0] for d in term_digests):
            for (row_bucket, block), blob in rows.items():
                if row_bucket == bucket:
                    by_block.setdefault(block, []).append(blob)
        postings.append(by_block)
    blocks = search_store.list_blocks(w.tx, ws, project.id)
    return search.candidates(
        blocks,
        postings,
        lambda block, ordinals: search_store.block_ids(w.tx, ws, project.id, block, ordinals),
        after=after,
        digests=digests,
    )


def _labelled(w: Unit, project: Project, hashes: tuple[bytes, ...], *, after: str) -> Iterator[str]:
    """The ids of the tasks with a label (its hash under each key), ascending, read a page at a time."""
    size = 256
    while True:
        found = search_store.labelled_task_ids(w.tx, project.workspace_id, project.id, hashes, after=after, limit=size)
        yield from found
        if len(found) < size:
            return
        after, size = found[-1], min(size * 4, 8192)


def _by_id(w: Unit, project: Project, where: Where, found: Iterator[str], wanted: int) -> list[BrowseRow]:
    """Check candidates in id order, in growing chunks, until ``wanted`` rows match."""
    rows: list[BrowseRow] = []
    chunk_size = 64
    chunk: list[str] = []
    for task_id in found:
        if task_id < where.id_from:
            continue
        if where.id_to is not None and task_id > where.id_to:
            break
        chunk.append(task_id)
        if len(chunk) >= chunk_size:
            rows += browse_store.page(
                w.tx, project.workspace_id, project.id, where, ids=chunk, limit=wanted - len(rows)
            )
            if len(rows) >= wanted:
                return rows
            chunk, chunk_size = [], min(chunk_size * 4, 4096)
    if chunk:
        rows += browse_store.page(w.tx, project.workspace_id, project.id, where, ids=chunk, limit=wanted - len(rows))
    return rows


def _in_order(
    w: Unit, project: Project, where: Where, found: list[str], sort: str, after, wanted: int
) -> list[BrowseRow]:
    """Candidates in another order than id: by id lists when few, else the project read in that order."""
    ws = project.workspace_id
    if len(found) <= MAX_CHECKED_BY_ID:
        rows: list[BrowseRow] = []
        for start in range(0, len(found), 1000):
            rows += browse_store.page(
                w.tx, ws, project.id, where, sort=sort, after=after, ids=found[start : start + 1000], limit=wanted
            )
        rows.sort(key=lambda r: _order_key(r, sort))
        return rows[:wanted]
    keep = set(found)
    out: list[BrowseRow] = []
    position = after
    while len(out) < wanted:
        batch = browse_store.page(w.tx, ws, project.id, where, sort=sort, after=position, limit=2000)
        out += [row for row in batch if row.id in keep]
        if len(batch) < 2000:
            break
        position = (browse_store.sort_value(batch[-1], sort), batch[-1].id)
    return out[:wanted]


def _order_key(row: BrowseRow, sort: str) -> tuple:
    value = browse_store.sort_value(row, sort)
    return (value if sort == "agreement" else -value, row.id)


# -- the rows ------------------------------------------------------------------------------------------


def _item(w: Unit, project: Project, row: BrowseRow, config, *, original: bool) -> dict[str, Any]:
    """A row as the browser shows it: the task's data (the original for owners), a one-line preview."""
    task = task_dict(w, row, project.key_id, full=True, config=config, original=original)
    task.update(
        preview=preview(task["data"]),
        state=state_of(row),
        agreement=row.agreement,
        import_id=row.import_id,
        is_gold=bool(row.is_gold),
        overlap=project.settings.overlap,
    )
    return task


def state_of(row: BrowseRow) -> str:
    if row.held:
        return "held"
    if row.is_gold:
        return "gold"
    return "done" if row.done else "open"


def preview(data: Any, limit: int = PREVIEW_CHARS) -> str:
    """One line of a task's text: its strings in order, spaces collapsed, cut at a word (never JSON)."""
    parts: list[str] = []
    stack = [data]
    length = 0
    while stack and length < limit:
        item = stack.pop()
        if isinstance(item, str):
            text = " ".join(item.split())
            if text:
                parts.append(text)
                length += len(text) + 3
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    line = " · ".join(parts)
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ·") + "…"
