"""Annotations imported with their authors: members, external annotators, reviews, counts, audit, who may."""

from __future__ import annotations

import pytest

from bastion.domain.errors import InvalidInput, PermissionDenied, Unauthenticated
from bastion.services import annotations, audit, imports, projects, quality, queue, users, workspaces
from factories import make_side, make_user, system


def _line(i: int, labels: dict[str, str], **extra) -> tuple[int, dict]:
    return (
        i,
        {
            "data": {"text": f"text {i}"},
            "external_id": f"t{i}",
            "annotations": [
                {"author": who, "result": {"label": label}, "created_at": 1_700_000_000_000 + i, "lead_time": 2.5}
                for who, label in labels.items()
            ],
            **extra,
        },
    )


def test_three_authors_count_toward_overlap_quality_and_the_queue(rt):
    side = make_side(rt, "q", n_tasks=0, settings={"overlap": 3})
    ann, rev = "annotator.q@example.com", "reviewer.q@example.com"
    lines = [_line(i, {ann: "pos", rev: "pos" if i % 2 else "neg", "ext:vendor-a/17": "pos"}) for i in range(1, 7)]
    report = imports.import_tasks(side.ctx(rt, "manager"), side.project_id, lines, file_sha256="ab" * 32)
    assert (report.imported, report.rejected_count) == (6, 0), report.rejected
    project = projects.get_project(system(rt), side.project_id)
    assert (project.counts.tasks, project.counts.done, project.counts.annotations) == (6, 6, 18)
    # done: nothing is left for anyone in the queue
    assert queue.next_task(side.ctx(rt, "annotator"), side.project_id) is None
    report = quality.quality_report(side.ctx(rt, "owner"), side.project_id)
    assert report["annotations"] == 18
    names = {row["email"] for row in report["throughput"]["per_annotator"]}
    assert names == {ann, rev, "ext:vendor-a/17"}
    assert (report["agreement"]["n_annotators"], report["agreement"]["n_ratings"]) == (3, 18)
    first = annotations.list_annotations(side.ctx(rt, "owner"), _task_ids(rt, side)[0])
    assert sorted(a["created_at"] for a in first) == [1_700_000_000_001] * 3
    assert {a["lead_time_ms"] for a in first} == {2500}
    entries = audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"]
    imported = [e for e in entries if e["action"] == "annotations.imported"]
    assert len(imported) == 1
    details = imported[0]["details"]
    assert (details["tasks"], details["annotations"], details["authors"]) == (6, 18, 3)
    assert details["file_sha256"] == "ab" * 32
    # Re-running the import adds nothing, annotations included.
    again = imports.import_tasks(side.ctx(rt, "manager"), side.project_id, lines)
    assert (again.imported, again.duplicates) == (0, 6)
    assert projects.get_project(system(rt), side.project_id).counts.annotations == 18


def _task_ids(rt, side) -> list[str]:
    from bastion.services import tasks

    return [t["id"] for t in tasks.list_tasks(side.ctx(rt, "owner"), side.project_id, limit=100)["items"]]


def test_external_annotators_cannot_sign_in_and_are_one_per_workspace(rt):
    a = make_side(rt, "xa", n_tasks=0)
    b = make_side(rt, "xb", n_tasks=0)
    for side in (a, b):
        report = imports.import_tasks(side.ctx(rt, "owner"), side.project_id, [_line(1, {"ext:vendor-a/17": "pos"})])
        assert report.imported == 1, report.rejected
    ids_ = set()
    for side in (a, b):
        tid = _task_ids(rt, side)[0]
        (only,) = annotations.list_annotations(side.ctx(rt, "owner"), tid)
        ids_.add(only["user_id"])
    assert len(ids_) == 2  # the same handle in two workspaces is two people
    person = users.get_user(system(rt), next(iter(ids_)))
    assert not person.is_active
    with pytest.raises(InvalidInput, match="cannot sign in"):
        users.create_token(system(rt), person.id)
    with pytest.raises(InvalidInput, match="cannot sign in"):
        users.set_password(system(rt), person.id, "a long enough password")
    for email in ("ext:vendor-a/17", person.email):
        with pytest.raises(Unauthenticated):
            users.authenticate(rt, email, "a long enough password")
    assert person.id not in {m.user_id for m in workspaces.list_members(system(rt), a.workspace_id)}


def test_only_owners_and_managers_import_authors_and_authors_must_be_known(rt):
    side = make_side(rt, "w", n_tasks=0)
    with pytest.raises(PermissionDenied):  # annotation.import: owners and managers
        imports.import_tasks(side.ctx(rt, "reviewer"), side.project_id, [_line(1, {"ext:v/1": "pos"})])
    make_user(rt, "stranger@example.com")
    report = imports.import_tasks(
        side.ctx(rt, "owner"),
        side.project_id,
        [
            _line(1, {"stranger@example.com": "pos"}),
            _line(2, {"annotator.w@example.com": "maybe"}),
            _line(3, {"annotator.w@example.com": "neg"}),
        ],
    )
    assert report.imported == 1
    errors = {r["line"]: r["error"] for r in report.rejected}
    assert "stranger@example.com is not a member" in errors[1]
    assert errors[2].startswith("annotations[0].result:")


def test_reviews_cancelled_and_rejected(rt):
    side = make_side(rt, "r", n_tasks=0, settings={"overlap": 2})
    ann, rev = "annotator.r@example.com", "reviewer.r@example.com"
    line = {
        "data": {"text": "one"},
        "annotations": [
            {
                "author": ann,
                "result": {"label": "pos"},
                "reviews": [{"reviewer": rev, "decision": "reject", "comment": "no"}],
            },
            {"author": "ext:v/2", "was_cancelled": True},
            {
                "author": "ext:v/3",
                "result": {"label": "neg"},
                "review": {
                    "status": "corrected",
                    "reviewer_id": side.users["reviewer"],
                    "correction": {"label": "pos"},
                    "reviewed_at": 5,
                },
            },
        ],
    }
    report = imports.import_tasks(side.ctx(rt, "owner"), side.project_id, [(1, line)])
    assert report.imported == 1, report.rejected
    project = projects.get_project(system(rt), side.project_id)
    # the rejected one gives its slot back, the cancelled one is a skip: one of two slots filled
    assert (project.counts.annotations, project.counts.done) == (1, 0)
    q = quality.quality_report(side.ctx(rt, "owner"), side.project_id)
    assert q["review"]["rejected"] == 1 and q["review"]["corrected"] == 1
