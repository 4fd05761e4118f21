"""The data browser's service on both databases: who may browse, what each filter finds alone and
together, that the index follows tasks and answers as they change, and that it goes with a shred."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bastion.domain.errors import InvalidInput, NotFound, PermissionDenied
from bastion.leaks.simulation import generate_items
from bastion.services import (
    annotations,
    audit,
    browse,
    content,
    imports,
    queue,
    reviews,
    search,
    task_changes,
    workspaces,
)
from bastion.storage import schema
from factories import as_user, make_project, make_side, make_user, operator_tx, system

CONFIG = {"type": "classification", "field": "text", "labels": ["spam", "ham", "unsure"]}
TOPICS = ("refund", "billing", "login")


def _ids(page) -> list[str]:
    return [item["id"] for item in page.items]


@pytest.fixture
def lab(rt):
    """A project of 12 tasks (overlap 2, every answer reviewed) in two imports; tasks 0–5 answered by two
    annotators who agree on even tasks and disagree on odd ones; one answer rejected."""
    side = make_side(rt, "lab", n_tasks=0)
    project = make_project(rt, side.workspace_id, config=CONFIG, settings={"overlap": 2, "quality": {"review": "all"}})
    # Priorities fix the queue's order (0, 1, 2, …): ids alone would not, as batches made in one
    # millisecond interleave.
    first = [
        (
            i + 1,
            {
                "data": {"text": f"Ticket {i} about {TOPICS[i % 3]}"},
                "meta": {"lang": "fr" if i % 2 else "en"},
                "priority": 100 - i,
            },
        )
        for i in range(8)
    ]
    second = [
        (i + 1, {"data": {"text": f"Ticket {i} about {TOPICS[i % 3]}"}, "meta": {"lang": "de"}, "priority": 7 - i})
        for i in range(8, 12)
    ]
    imported = [imports.import_tasks(system(rt), project.id, batch, batch_size=3) for batch in (first, second)]
    people = {}
    for name in ("ann1", "ann2"):
        person = make_user(rt, f"{name}.{side.workspace_id[-6:]}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
        people[name] = person
    order: list[str] = []
    for name in ("ann1", "ann2"):
        ctx = as_user(rt, people[name].id)
        for _ in range(6):
            task = queue.next_task(ctx, project.id)
            if name == "ann1":
                order.append(task["id"])
            n = int(task["data"]["text"].split()[1])
            label = "spam" if name == "ann1" or n % 2 == 0 else "ham"
            annotations.submit_annotation(ctx, task["id"], {"label": label})
    ctx = side.ctx(rt, "owner")
    content.open_workspace(ctx, side.workspace_id)
    return {
        "side": side,
        "project": project,
        "people": people,
        "imports": [r.import_id for r in imported],
        "ctx": ctx,
        "text": {t["id"]: t["preview"] for t in browse.browse(ctx, project.id, {"limit": "200"}).items},
    }


def _n(lab, task_id: str) -> int:
    return int(lab["text"][task_id].split()[1])


def _numbers(lab, page) -> list[int]:
    """The tasks' numbers, ascending (ids are k-sortable: batches made in one millisecond interleave)."""
    return sorted(_n(lab, task_id) for task_id in _ids(page))


def test_each_filter_alone_finds_what_it_says(rt, lab):
    ctx, pid = lab["ctx"], lab["project"].id

    def find(**params):
        return sorted(_numbers(lab, browse.browse(ctx, pid, {"limit": "200", **params})))

    assert find() == list(range(12))
    assert find(q="refund") == [0, 3, 6, 9]
    assert find(q="REFUND ticket") == [0, 3, 6, 9]
    assert find(q="refund nowhere") == []
    assert find(meta=["lang=FR"]) == [1, 3, 5, 7]
    assert find(q="meta:lang=de") == [8, 9, 10, 11]
    assert find(label="ham") == [1, 3, 5]
    assert find(label="spam") == list(range(6))
    assert find(q="label:ham refund") == [3]
    assert find(agreement_below="0.5") == [1, 3, 5]
    assert find(state="done") == list(range(6))
    assert find(state="open") == list(range(6, 12))
    assert find(gold="yes") == []
    assert find(annotator=lab["people"]["ann2"].email.upper()) == list(range(6))
    assert find(review="pending") == list(range(6))
    assert find(review="accepted") == []
    assert find(**{"import": lab["imports"][1]}) == [8, 9, 10, 11]
    assert find(created_from="2000-01-01", created_to="2999-12-31") == list(range(12))
    assert find(created_to="2000-01-01") == []


def test_filters_combine_and_pages_cover_every_match_once_in_order(rt, lab):
    ctx, pid = lab["ctx"], lab["project"].id
    page = browse.browse(ctx, pid, {"q": "ticket", "meta": "lang=fr", "agreement_below": "0.5", "label": "spam"})
    assert sorted(_numbers(lab, page)) == [1, 3, 5]
    for sort in ("id", "priority", "annotations", "agreement"):
        for q in ("", "ticket"):
            seen, cursor = [], None
            while True:
                params = {"limit": "2", "sort": sort, "q": q, **({"cursor": cursor} if cursor else {})}
                page = browse.browse(ctx, pid, params)
                seen += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
            ids = [item["id"] for item in seen]
            expected = 6 if sort == "agreement" else 12  # ordering by agreement lists the tasks that have one
            assert len(ids) == len(set(ids)) == expected, (sort, q)
            keys = {
                "id": lambda t: t["id"],
                "priority": lambda t: (-t["priority"], t["id"]),
                "annotations": lambda t: (-t["annotation_count"], t["id"]),
                "agreement": lambda t: (t["agreement"], t["id"]),
            }
            assert seen == sorted(seen, key=keys[sort]), (sort, q)


def test_bad_filters_are_named_and_foreign_projects_do_not_exist(rt, lab):
    ctx, pid = lab["ctx"], lab["project"].id
    for params, field in (
        ({"annotator": "nobody@example.com"}, "annotator"),
        ({"import": "imp_" + "0" * 32}, "import"),
        ({"cursor": "tsk_nope"}, "cursor"),
        ({"sort": "priority", "cursor": "high~" + _ids(browse.browse(ctx, pid, {}))[0]}, "cursor"),
        ({"q": "meta:lang"}, "meta"),
    ):
        with pytest.raises(InvalidInput, match=field):
            browse.browse(ctx, pid, params)
    kept = browse.browse(ctx, pid, {"annotator": "nobody@example.com"}, keep_errors=True)
    assert "annotator" in kept.error and kept.items == [] and kept.labels == ["spam", "ham", "unsure"]
    other = make_side(rt, "far", n_tasks=2)
    with pytest.raises(NotFound):
        browse.browse(ctx, other.project_id, {})
    with pytest.raises(NotFound):
        browse.browse(ctx, "prj_" + "0" * 32, {})


@pytest.mark.parametrize("role", ["annotator", "auditor"])
def test_only_roles_that_may_browse_list_tasks(rt, lab, role):
    side = lab["side"]
    with pytest.raises(PermissionDenied):
        browse.browse(side.ctx(rt, role), lab["project"].id, {"q": "refund"})
    for allowed in ("manager", "reviewer"):
        assert len(browse.browse(side.ctx(rt, allowed), lab["project"].id, {"q": "refund"}).items) == 4
    with pytest.raises(PermissionDenied):  # held tasks are for owners
        browse.browse(side.ctx(rt, "manager"), lab["project"].id, {"state": "held"})
    assert browse.browse(lab["ctx"], lab["project"].id, {"state": "held"}).items == []


def test_the_read_is_audited_with_filter_names_never_values(rt, lab):
    browse.browse(lab["ctx"], lab["project"].id, {"q": "refund", "meta": "lang=fr"})
    entries = audit.list_entries(system(rt), lab["side"].workspace_id, limit=1000)["items"]
    listed = [e for e in entries if e.get("action") == "tasks.listed"][-1]
    assert listed["details"]["filters"] == ["q", "meta"] and listed["details"]["count"] == 1
    assert "refund" not in str(listed) and "lang=fr" not in str(listed)


def test_the_index_follows_changes_deletions_and_reviews(rt, lab):
    ctx, pid, side = lab["ctx"], lab["project"].id, lab["side"]
    by_number = {_n(lab, t): t for t in lab["text"]}
    # Meta changed: found by the new value, no longer by the old.
    task_changes.update_task(ctx, by_number[8], {"meta": {"lang": "it"}})
    assert _numbers(lab, browse.browse(ctx, pid, {"meta": "lang=it"})) == [8]
    assert _numbers(lab, browse.browse(ctx, pid, {"meta": "lang=de"})) == [9, 10, 11]
    assert _numbers(lab, browse.browse(ctx, pid, {"q": "refund"})) == [0, 3, 6, 9]
    # Deleted: gone from every search, by words, meta and labels.
    task_changes.delete_task(ctx, by_number[3])
    assert _numbers(lab, browse.browse(ctx, pid, {"q": "refund"})) == [0, 6, 9]
    assert _numbers(lab, browse.browse(ctx, pid, {"label": "ham"})) == [1, 5]
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(func.count()).where(schema.search_labels.c.task_id == by_number[3])).scalar() == 0
    # A rejected answer: its label goes, the task is no longer at its overlap (no agreement).
    reviewer = side.ctx(rt, "reviewer")
    content.open_workspace(reviewer, side.workspace_id)
    held = reviews.review_next(reviewer, pid)
    while _n(lab, held["annotation"]["task_id"]) != 1 or held["annotation"]["result"]["label"] != "ham":
        reviews.review_annotation(reviewer, held["annotation"]["id"], "accept")
        held = reviews.review_next(reviewer, pid)
    reviews.review_annotation(reviewer, held["annotation"]["id"], "reject", comment="not ham")
    assert _numbers(lab, browse.browse(ctx, pid, {"label": "ham"})) == [5]
    assert _numbers(lab, browse.browse(ctx, pid, {"agreement_below": "0.5"})) == [5]
    assert 1 in _numbers(lab, browse.browse(ctx, pid, {"state": "open"}))
    # A correction adds its labels.
    held = reviews.review_next(reviewer, pid)
    reviews.review_annotation(reviewer, held["annotation"]["id"], "correct", correction={"label": "unsure"})
    assert _numbers(lab, browse.browse(ctx, pid, {"label": "unsure"})) == [_n(lab, held["annotation"]["task_id"])]
    assert len(_ids(browse.browse(ctx, pid, {"review": "rejected"}))) == 1


def test_reindex_rebuilds_what_the_index_lacked(rt, lab):
    ctx, pid, ws = lab["ctx"], lab["project"].id, lab["side"].workspace_id
    before = {
        key: _ids(browse.browse(ctx, pid, params))
        for key, params in (("q", {"q": "refund"}), ("label", {"label": "ham"}), ("agree", {"agreement_below": "0.5"}))
    }
    # As after the migration: an empty index and the project marked.
    from bastion.storage import search_store

    with operator_tx(rt) as tx:
        search_store.clear_index(tx, ws, pid)
        search_store.mark_reindex(tx, ws, pid, 1)
        tx.execute(schema.tasks.update().where(schema.tasks.c.project_id == pid).values(agreement=None))
    page = browse.browse(ctx, pid, {"q": "refund"})
    assert page.items == [] and page.reindex_since == 1
    counts = search.reindex_project(ctx, pid)
    assert counts["tasks"] == 12 and counts["agreements"] == 6
    after = {
        key: _ids(browse.browse(ctx, pid, params))
        for key, params in (("q", {"q": "refund"}), ("label", {"label": "ham"}), ("agree", {"agreement_below": "0.5"}))
    }
    assert after == before and browse.browse(ctx, pid, {}).reindex_since is None
    with pytest.raises(PermissionDenied):
        search.reindex_project(lab["side"].ctx(rt, "reviewer"), pid)


def test_a_shredded_workspace_takes_its_index_with_it(rt, lab):
    side = lab["side"]
    ctx = side.ctx(rt, "owner")
    workspaces.delete_workspace(ctx, side.workspace_id, approval=side.approval(rt, "workspace.delete"))
    with pytest.raises(NotFound):
        browse.browse(ctx, lab["project"].id, {"q": "refund"})
    with operator_tx(rt, write=False) as tx:
        for table in (schema.search_blocks, schema.search_postings, schema.search_labels, schema.search_keys):
            count = tx.execute(select(func.count()).where(table.c.workspace_id == side.workspace_id)).scalar()
            assert count == 0, table.name


def test_owners_see_the_original_text_others_their_variant(rt):
    """The data browser showed owners their wording variant (a reported bug): owners read the task as imported."""
    side = make_side(rt, "orig", n_tasks=0)
    texts = generate_items(6, seed=11)
    imports.import_tasks(system(rt), side.project_id, [(i + 1, {"data": {"text": t}}) for i, t in enumerate(texts)])
    shown = {}
    for role in ("owner", "manager"):
        ctx = side.ctx(rt, role)
        content.open_workspace(ctx, side.workspace_id)
        shown[role] = [item["data"]["text"] for item in browse.browse(ctx, side.project_id, {}).items]
    assert shown["owner"] == texts
    assert shown["manager"] != texts and len(shown["manager"]) == len(texts)  # variants are on by default
    owner_page = browse.browse(side.ctx(rt, "owner"), side.project_id, {})
    assert owner_page.originals and " ".join(texts[0].split()).startswith(owner_page.items[0]["preview"].rstrip("…"))


def test_the_import_path_indexes_imported_answers(rt):
    """Annotations imported with their authors give their tasks labels and agreement like submitted ones."""
    side = make_side(rt, "att", n_tasks=0)
    project = make_project(rt, side.workspace_id, config=CONFIG, settings={"overlap": 2})
    lines = [
        (1, {"data": {"text": "one"}, "annotations": [{"author": "ext:v/1", "result": {"label": "spam"}},
                                                        {"author": "ext:v/2", "result": {"label": "ham"}}]}),
        (2, {"data": {"text": "two"}, "annotations": [{"author": "ext:v/1", "result": {"label": "ham"}},
                                                        {"author": "ext:v/2", "result": {"label": "ham"}}]}),
    ]  # fmt: skip
    imports.import_tasks(side.ctx(rt, "owner"), project.id, lines)
    ctx = side.ctx(rt, "owner")
    content.open_workspace(ctx, side.workspace_id)
    assert [i["preview"] for i in browse.browse(ctx, project.id, {"label": "ham"}).items] == ["one", "two"]
    assert [i["preview"] for i in browse.browse(ctx, project.id, {"agreement_below": "0.5"}).items] == ["one"]
    # External annotators are among the people the annotator filter offers.
    external = next(p.email for p in browse.browse(ctx, project.id, {}).people if p.email.startswith("ext:v/1 "))
    assert [i["preview"] for i in browse.browse(ctx, project.id, {"annotator": external}).items] == ["one", "two"]


def test_a_bulk_import_indexes_in_a_helper_process_as_it_would_here(rt):
    """``bastion import`` makes its blocks from the second batch on in a helper process: the same index."""
    side = make_side(rt, "hlp", n_tasks=0)
    lines = [(i + 1, {"data": {"text": f"row {i} {'refund' if i % 4 == 0 else 'other'} café"}}) for i in range(35)]
    imports.import_tasks(system(rt), side.project_id, lines, batch_size=10, bulk_process=True)
    ctx = side.ctx(rt, "owner")
    content.open_workspace(ctx, side.workspace_id)
    found = browse.browse(ctx, side.project_id, {"q": "refund CAFÉ", "limit": "200"})
    assert sorted(int(item["preview"].split()[1]) for item in found.items) == list(range(0, 35, 4))
    with operator_tx(rt, write=False) as tx:
        blocks = tx.execute(select(func.count()).where(schema.search_blocks.c.project_id == side.project_id)).scalar()
    assert blocks == 4
