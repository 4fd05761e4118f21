"""Aggregation over the API: methods checked per task type before the first byte, labels kept whole,
ties broken without bias (and counted), multi-label agreement per label."""

from __future__ import annotations

import orjson
import pytest

from bastion.services import annotations, imports, queue, workspaces
from factories import as_user, make_project, make_side, make_user, system

SPANS = {"type": "spans", "labels": ["THING", "PLACE"]}


def _people(rt, side, n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        user = make_user(rt, f"{tag}{i}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        ids.append(user.id)
    return ids


def _label_everything(rt, project_id: str, who: list[str], answer) -> None:
    """Each person labels every task they are given; ``answer(person_index, task)`` is their result."""
    for i, user_id in enumerate(who):
        ctx = as_user(rt, user_id)
        while (task := queue.next_task(ctx, project_id)) is not None:
            annotations.submit_annotation(ctx, task["id"], answer(i, task))


def _export(client, side, project_id: str, query: str):
    return client.get(f"/api/v1/projects/{project_id}/export?{query}", headers=side.headers("owner"))


@pytest.mark.parametrize(
    ("config", "method", "fits"),
    [
        (None, "bt", "ds, mv, onecoin, glad, mace"),
        (SPANS, "mv", "none"),
    ],
)
def test_a_method_that_does_not_fit_the_type_is_refused_before_the_first_byte(client, rt, config, method, fits):
    side = make_side(rt, f"fit{method}", n_tasks=0)
    project = make_project(rt, side.workspace_id, name="fit", config=config, settings={"overlap": 1})
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": "Oslo is a place."}})])
    (person,) = _people(rt, side, 1, f"fit{method}")
    result = {"spans": [{"start": 0, "end": 4, "label": "PLACE"}]} if config else {"label": "pos"}
    _label_everything(rt, project.id, [person], lambda i, task: result)
    r = _export(client, side, project.id, f"aggregate={method}")
    assert r.status_code == 422, r.text[:200]
    message = r.json()["error"]["message"]
    assert message.startswith("aggregate: ") and f"{method!r}" in message and fits in message


def test_a_label_with_a_bar_stays_one_label(client, rt):
    config = {"type": "classification", "labels": ["yes|no", "maybe"]}
    side = make_side(rt, "bar", n_tasks=0)
    project = make_project(rt, side.workspace_id, name="bar", config=config, settings={"overlap": 2})
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"t{i}"}}) for i in range(1, 4)])
    _label_everything(rt, project.id, _people(rt, side, 2, "bar"), lambda i, task: {"label": "yes|no"})
    rows = [orjson.loads(line) for line in _export(client, side, project.id, "aggregate=mv").content.splitlines()]
    assert [row["aggregate"]["label"] for row in rows] == ["yes|no"] * 3


def test_multi_label_aggregation_keeps_labels_whole(client, rt):
    config = {"type": "classification", "labels": ["a|b", "c", "d,e"], "multiple": True}
    side = make_side(rt, "mbar", n_tasks=0)
    project = make_project(rt, side.workspace_id, name="mbar", config=config, settings={"overlap": 3})
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": "t"}})])
    given = [["a|b", "d,e"], ["a|b"], ["a|b", "d,e"]]
    _label_everything(rt, project.id, _people(rt, side, 3, "mbar"), lambda i, task: {"labels": given[i]})
    (row,) = [orjson.loads(line) for line in _export(client, side, project.id, "aggregate=mv").content.splitlines()]
    assert row["aggregate"]["label"] == ["a|b", "d,e"]


def test_majority_vote_ties_are_drawn_per_task_reproducibly_and_counted(client, rt):
    side = make_side(rt, "tie", n_tasks=0)
    project = make_project(rt, side.workspace_id, name="ties", settings={"overlap": 2})
    n = 40
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"t{i}"}}) for i in range(n)])
    _label_everything(
        rt, project.id, _people(rt, side, 2, "tie"), lambda i, task: {"label": ("pos", "neg")[i]}
    )  # every task a 1–1 tie
    first = [orjson.loads(x) for x in _export(client, side, project.id, "aggregate=mv").content.splitlines()]
    again = [orjson.loads(x) for x in _export(client, side, project.id, "aggregate=mv").content.splitlines()]
    labels = [row["aggregate"]["label"] for row in first]
    assert labels == [row["aggregate"]["label"] for row in again]  # reproducible
    assert all(row["aggregate"]["tie"] for row in first)
    # Unbiased: each side wins about half (the old rule gave every tie to "neg", first in sorted order).
    assert labels.count("pos") >= 8 and labels.count("neg") >= 8
    report = client.get(f"/api/v1/projects/{project.id}/quality?method=mv", headers=side.headers("owner")).json()
    assert report["aggregation"]["ties"] == n
    assert report["aggregation"]["methods"] == ["ds", "mv", "onecoin", "glad", "mace"]


def test_multi_label_agreement_is_per_label(client, rt):
    config = {"type": "classification", "labels": ["A", "B", "C"], "multiple": True}
    side = make_side(rt, "ml", n_tasks=0)
    project = make_project(rt, side.workspace_id, name="ml", config=config, settings={"overlap": 2})
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"t{i}"}}) for i in (1, 2, 3)])
    given = {
        ("t1", 0): ["A"],
        ("t1", 1): ["A", "B"],
        ("t2", 0): ["B"],
        ("t2", 1): ["B"],
        ("t3", 0): ["A", "C"],
        ("t3", 1): ["C"],
    }
    _label_everything(
        rt, project.id, _people(rt, side, 2, "ml"), lambda i, task: {"labels": given[(task["data"]["text"], i)]}
    )
    agreement = client.get(f"/api/v1/projects/{project.id}/quality", headers=side.headers("owner")).json()["agreement"]
    assert agreement["kind"] == "multi_label"
    per_label = {row["label"]: row for row in agreement["per_label"]}
    # By hand (docs/quality.md): A and B agree on 2 of 3 tasks, α = 1 − (2/6)/(18/30) = 4/9, κ = 1/3; C always.
    for label, (percent, alpha, kappa) in {
        "A": (2 / 3, 4 / 9, 1 / 3),
        "B": (2 / 3, 4 / 9, 1 / 3),
        "C": (1.0, 1.0, 1.0),
    }.items():
        assert per_label[label]["percent_agreement"]["value"] == pytest.approx(percent, abs=1e-12)
        assert per_label[label]["krippendorff_alpha"]["value"] == pytest.approx(alpha, abs=1e-12)
        assert per_label[label]["fleiss_kappa"]["value"] == pytest.approx(kappa, abs=1e-12)
    assert agreement["percent_agreement"]["value"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3, abs=1e-12)
    assert agreement["krippendorff_alpha"]["value"] == pytest.approx((4 / 9 + 4 / 9 + 1) / 3, abs=1e-12)
    assert agreement["fleiss_kappa"]["value"] == pytest.approx((1 / 3 + 1 / 3 + 1) / 3, abs=1e-12)
