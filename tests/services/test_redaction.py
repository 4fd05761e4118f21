"""Redaction at import, pseudonyms per task, held items and re-identification, on both databases."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from bastion.domain.errors import (
    InvalidConfig,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from bastion.leaks.simulation import generate_items
from bastion.services import (
    annotations,
    audit,
    exports,
    imports,
    keys,
    projects,
    queue,
    redaction,
    tasks,
    tracing,
    workspaces,
)
from bastion.storage import schema
from factories import as_user, make_side, make_user, operator_tx, system

POLICY = {"dictionaries": {"codename": ["Nightjar", "Kestrel Prime"], "person": ["Dana Whitlock"]}}
SPANS = {
    "type": "spans",
    "labels": ["PERSON", "TOPIC"],
    "redaction": POLICY,
    "leak_tracing": {"variants": {"enabled": False}},
}
NON_OWNERS = ("manager", "reviewer", "annotator", "auditor")


def _project(rt, side, config=None, settings=None, name="Redacted"):
    return projects.create_project(system(rt), side.workspace_id, name=name, config=config or SPANS, settings=settings)


def _import(rt, project_id, items):
    report = imports.import_tasks(system(rt), project_id, list(enumerate(items, start=1)))
    assert report.rejected == [], report.rejected
    return report


def _stored(rt, project_id):
    with operator_tx(rt, write=False) as tx:
        return tx.execute(
            select(schema.tasks).where(schema.tasks.c.project_id == project_id).order_by(schema.tasks.c.id)
        ).all()


def _audit_actions(rt, side):
    entries = audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"]
    return [(e["action"], e["target"], e["actor"]) for e in entries]


def _reidentify(rt, side, task_id):
    """An owner sees a task's originals: a two-person operation, so with a real approval each time."""
    approval = side.approval(rt, "redaction.reidentify", {"task": task_id})
    return redaction.reidentify_task(side.ctx(rt, "owner"), task_id, approval=approval)


def test_import_stores_redacted_text_numbered_per_task(rt):
    side = make_side(rt, "red", n_tasks=0)
    project = _project(rt, side)
    _import(
        rt,
        project.id,
        [
            {"data": {"text": "Dana Whitlock mailed jane.doe@example.com about Nightjar."}, "external_id": "a"},
            {
                "data": {"text": "NIGHTJAR's lead is Dana Whitlock; cc bob@example.org and JANE.DOE@example.com."},
                "external_id": "b",
            },
        ],
    )
    _import(
        rt,
        project.id,
        [{"data": {"text": "Kestrel Prime replaces Nightjar, says bob@example.org."}, "external_id": "c"}],
    )
    texts = [t["data"]["text"] for t in tasks.list_tasks(side.ctx(rt, "manager"), project.id)["items"]]
    assert texts == [
        "[PERSON_1] mailed [EMAIL_1] about [CODENAME_1].",
        "[CODENAME_1]'s lead is [PERSON_1]; cc [EMAIL_1] and [EMAIL_2].",
        "[CODENAME_1] replaces [CODENAME_2], says [EMAIL_1].",
    ]
    # At rest: ciphertext only, the payloads and the records alike.
    for row in _stored(rt, project.id):
        assert b"Whitlock" not in row.payload and b"example" not in row.payload
    with operator_tx(rt, write=False) as tx:
        records = (
            tx.execute(select(schema.task_redactions.c.record).where(schema.task_redactions.c.project_id == project.id))
            .scalars()
            .all()
        )
    assert len(records) == 3 and not any(b"Nightjar" in r or b"example" in r for r in records)
    # Each task re-identifies from its own record: the same token, different values.
    restored = [_reidentify(rt, side, row.id) for row in _stored(rt, project.id)]
    assert [
        {f["pseudonym"]: f["original"] for f in r["findings"] if f["pseudonym"] == "[EMAIL_1]"} for r in restored
    ] == [{"[EMAIL_1]": "jane.doe@example.com"}, {"[EMAIL_1]": "bob@example.org"}, {"[EMAIL_1]": "bob@example.org"}]
    assert (
        restored[1]["data"]["text"] == "NIGHTJAR's lead is Dana Whitlock; cc bob@example.org and JANE.DOE@example.com."
    )


def test_two_items_that_differ_only_in_redacted_values_stay_two_tasks(rt):
    side = make_side(rt, "dup", n_tasks=0)
    project = _project(rt, side)
    items = [{"data": {"text": "Write to jane@example.com."}}, {"data": {"text": "Write to bob@example.com."}}]
    report = _import(rt, project.id, items)
    assert (report.imported, report.duplicates) == (2, 0)
    assert [t["data"]["text"] for t in tasks.list_tasks(side.ctx(rt, "owner"), project.id)["items"]] == [
        "Write to [EMAIL_1]."
    ] * 2
    # Re-running the import adds nothing (the same person: see the manager's guess in tests/api).
    again = _import(rt, project.id, items)
    assert (again.imported, again.duplicates) == (0, 2)


def test_predictions_follow_the_redacted_text(rt):
    side = make_side(rt, "pred", n_tasks=0)
    project = _project(rt, side)
    text = "Yesterday Dana Whitlock presented Nightjar to the board."
    _import(
        rt,
        project.id,
        [
            {
                "data": {"text": text},
                "predictions": [
                    {
                        "spans": [
                            {"start": 10, "end": 23, "label": "PERSON"},
                            {"start": 34, "end": 42, "label": "TOPIC"},
                            {"start": 50, "end": 55, "label": "TOPIC"},
                        ]
                    }
                ],
            }
        ],
    )
    task = tasks.list_tasks(side.ctx(rt, "owner"), project.id)["items"][0]
    assert task["data"]["text"] == "Yesterday [PERSON_1] presented [CODENAME_1] to the board."
    assert task["predictions"][0]["spans"] == [
        {"start": 10, "end": 20, "label": "PERSON", "text": "[PERSON_1]"},
        {"start": 31, "end": 43, "label": "TOPIC", "text": "[CODENAME_1]"},
        {"start": 51, "end": 56, "label": "TOPIC", "text": "board"},
    ]
    original = _reidentify(rt, side, task["id"])
    assert original["data"]["text"] == text
    assert [s["text"] for s in original["predictions"][0]["spans"]] == ["Dana Whitlock", "Nightjar", "board"]


def test_low_confidence_findings_hold_the_item_until_an_owner_releases_it(rt):
    side = make_side(rt, "held", n_tasks=0)
    project = _project(rt, side)
    _import(
        rt,
        project.id,
        [
            {"data": {"text": "Plain text about the weather."}, "external_id": "plain"},
            {"data": {"text": "The token eyJub3RqdXN0.eyJhYmNkZWZn.c2ln was in the log."}, "external_id": "odd"},
        ],
    )
    odd = [r for r in _stored(rt, project.id) if r.held]
    assert len(odd) == 1 and odd[0].done  # stored done: out of the queue index
    annotator = side.ctx(rt, "annotator")
    first = queue.next_task(annotator, project.id)
    assert first["data"]["text"] == "Plain text about the weather."
    annotations.submit_annotation(annotator, first["id"], {"spans": []})
    assert queue.next_task(annotator, project.id) is None  # the held item is never leased
    # Everyone but owners: 403 on the list and the release, and the item does not exist for them.
    for role in NON_OWNERS:
        with pytest.raises(PermissionDenied):
            redaction.list_held(side.ctx(rt, role), project.id)
        with pytest.raises(PermissionDenied):
            redaction.release_held(side.ctx(rt, role), odd[0].id)
    with pytest.raises(NotFound):
        tasks.get_task(side.ctx(rt, "manager"), odd[0].id)
    assert [t["data"]["text"] for t in tasks.list_tasks(side.ctx(rt, "manager"), project.id)["items"]] == [
        "Plain text about the weather."
    ]
    page = redaction.list_held(side.ctx(rt, "owner"), project.id)
    assert [i["task_id"] for i in page["items"]] == [odd[0].id]
    assert "low-confidence jwt in text" in page["items"][0]["reasons"][0]
    assert "eyJ" not in orjson.dumps(page).decode()  # ids and reasons, never the text
    redaction.release_held(side.ctx(rt, "owner"), odd[0].id)
    with pytest.raises(InvalidInput, match="not held"):
        redaction.release_held(side.ctx(rt, "owner"), odd[0].id)
    released = queue.next_task(annotator, project.id)
    assert released["id"] == odd[0].id
    assert released["data"]["text"] == "The token [TOKEN_1] was in the log."  # redacted all the same
    assert ("task.released", odd[0].id, side.users["owner"]) in _audit_actions(rt, side)
    # Changing the overlap re-derives "done", and keeps held items, canaries and gold out of the queue.
    _import(rt, project.id, [{"data": {"text": "Another eyJub3RqdXN0.eyJhYmNkZWZn.c2lu token."}}])
    projects.update_project(side.ctx(rt, "owner"), project.id, settings={"overlap": 2})
    assert queue.next_task(side.ctx(rt, "reviewer"), project.id)["id"] in {first["id"], odd[0].id}


def test_predictions_cut_by_a_redacted_value_hold_the_item(rt):
    side = make_side(rt, "cut", n_tasks=0)
    project = _project(rt, side)
    # "Dana" and "Whitlock" labelled apart: both become [PERSON_1], so the two spans would overlap.
    _import(
        rt,
        project.id,
        [
            {
                "data": {"text": "Dana Whitlock signed."},
                "predictions": [
                    {"spans": [{"start": 0, "end": 4, "label": "PERSON"}, {"start": 5, "end": 13, "label": "TOPIC"}]}
                ],
            }
        ],
    )
    (row,) = _stored(rt, project.id)
    assert row.held and row.predictions is None
    (item,) = redaction.list_held(side.ctx(rt, "owner"), project.id)["items"]
    assert item["reasons"][0].startswith("predictions[0]: no longer valid after redaction")


def test_only_owners_reidentify_and_every_time_is_audited(rt):
    side = make_side(rt, "reid", n_tasks=0)
    project = _project(rt, side)
    _import(rt, project.id, [{"data": {"text": "Ask Dana Whitlock about Nightjar."}}])
    task_id = _stored(rt, project.id)[0].id
    for role in NON_OWNERS:
        with pytest.raises(PermissionDenied):
            redaction.reidentify_task(side.ctx(rt, role), task_id)
        with pytest.raises(PermissionDenied):
            exports.start_export(side.ctx(rt, role), project.id, request=exports.ExportRequest(reidentify=True))
    outsider = make_user(rt, "outsider.reid@example.com")
    with pytest.raises(NotFound):
        redaction.reidentify_task(as_user(rt, outsider.id), task_id)
    shown = _reidentify(rt, side, task_id)
    assert shown["data"]["text"] == "Ask Dana Whitlock about Nightjar."
    assert shown["redacted_data"]["text"] == "Ask [PERSON_1] about [CODENAME_1]."
    assert {(f["pseudonym"], f["original"]) for f in shown["findings"]} == {
        ("[PERSON_1]", "Dana Whitlock"),
        ("[CODENAME_1]", "Nightjar"),
    }
    _reidentify(rt, side, task_id)
    assert _audit_actions(rt, side).count(("task.reidentified", task_id, side.users["owner"])) == 2
    # A read-only token of an owner may not re-identify either.
    with pytest.raises(PermissionDenied):
        redaction.reidentify_task(as_user(rt, side.users["owner"], read_only=True), task_id)


def test_export_with_reidentify_restores_text_and_maps_spans_back(rt):
    side = make_side(rt, "exp", n_tasks=0)
    project = _project(rt, side)
    text = "Dana Whitlock said Nightjar ships in May; write to press@example.com."
    _import(rt, project.id, [{"data": {"text": text}}])
    annotator = side.ctx(rt, "annotator")
    task = queue.next_task(annotator, project.id)
    shown = task["data"]["text"]
    assert shown == "[PERSON_1] said [CODENAME_1] ships in May; write to [EMAIL_1]."
    spans = [
        {"start": shown.index("[PERSON_1]"), "end": shown.index("[PERSON_1]") + 10, "label": "PERSON"},
        {"start": shown.index("May"), "end": shown.index("May") + 3, "label": "TOPIC"},
    ]
    annotations.submit_annotation(annotator, task["id"], {"spans": spans})

    def export(ctx, **options):
        request = exports.ExportRequest(**options)
        return [
            orjson.loads(line)
            for line in b"".join(exports.start_export(ctx, project.id, request=request).chunks()).splitlines()
        ]

    plain = export(side.ctx(rt, "manager"))[0]
    assert plain["data"]["text"] == shown  # consistent on the redacted text
    assert [(s["start"], s["end"], s["text"]) for s in plain["annotations"][0]["result"]["spans"]] == [
        (0, 10, "[PERSON_1]"),
        (shown.index("May"), shown.index("May") + 3, "May"),
    ]
    view = _reidentify(rt, side, task["id"])
    assert [(s["start"], s["end"], s["text"]) for s in view["annotations"][0]["result"]["spans"]] == [
        (0, 13, "Dana Whitlock"),
        (text.index("May"), text.index("May") + 3, "May"),
    ]
    restored = export(
        side.ctx(rt, "owner"),
        reidentify=True,
        approval=side.approval(rt, "redaction.reidentify", {"project": project.id}),
    )[0]
    assert restored["data"]["text"] == text
    assert [(s["start"], s["end"], s["text"]) for s in restored["annotations"][0]["result"]["spans"]] == [
        (0, 13, "Dana Whitlock"),
        (text.index("May"), text.index("May") + 3, "May"),
    ]
    spacy = export(
        side.ctx(rt, "owner"),
        fmt="spacy",
        reidentify=True,
        approval=side.approval(rt, "redaction.reidentify", {"project": project.id}),
    )[0]
    assert spacy["text"] == text
    entries = [
        e
        for e in audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"]
        if e["action"] == "project.exported"
    ]
    assert [e["details"].get("reidentify") for e in entries] == [None, True, True]


def test_the_policy_is_checked_and_only_owners_read_or_change_it(rt):
    side = make_side(rt, "pol", n_tasks=0)
    with pytest.raises(InvalidConfig, match=r"redaction\.detectors\[0\]"):
        _project(rt, side, config={**SPANS, "redaction": {"detectors": ["emails"]}})
    with pytest.raises(InvalidConfig, match="leak_tracing.canary_rate"):
        _project(rt, side, config={**SPANS, "leak_tracing": {"canary_rate": 0.9}})
    with pytest.raises(PermissionDenied):
        projects.create_project(side.ctx(rt, "manager"), side.workspace_id, name="x", config=SPANS)
    project = projects.create_project(side.ctx(rt, "owner"), side.workspace_id, name="x", config=SPANS)
    assert projects.get_project(side.ctx(rt, "owner"), project.id).config["redaction"] == POLICY
    for role in NON_OWNERS:
        config = projects.get_project(side.ctx(rt, role), project.id).config
        assert "redaction" not in config and "leak_tracing" not in config, role
        assert "Nightjar" not in orjson.dumps(config).decode()
    # A manager's change keeps the sections; trying to change them is refused.
    changed = {k: v for k, v in SPANS.items() if k not in ("redaction", "leak_tracing")}
    projects.update_project(side.ctx(rt, "manager"), project.id, config={**changed, "instructions": "Mark them."})
    full = projects.get_project(side.ctx(rt, "owner"), project.id).config
    assert full["redaction"] == POLICY and full["instructions"] == "Mark them."
    with pytest.raises(PermissionDenied):
        projects.update_project(side.ctx(rt, "manager"), project.id, config={**changed, "redaction": {}})


def test_reencryption_keeps_the_vault_and_records_readable(rt):
    side = make_side(rt, "rekey", n_tasks=0)
    project = _project(rt, side)
    _import(rt, project.id, [{"data": {"text": "Dana Whitlock on Nightjar."}}])
    task_id = _stored(rt, project.id)[0].id
    keys.start_new_data_keys(side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "keys.rotate"))
    done = keys.reencrypt_project(
        side.ctx(rt, "owner"), project.id, approval=side.approval(rt, "keys.reencrypt", {"project": project.id})
    )
    assert done["task_redactions"] == 1 and done["retired_keys"]
    rt.keyring.forget_cache()
    assert _reidentify(rt, side, task_id)["data"]["text"] == "Dana Whitlock on Nightjar."
    _import(rt, project.id, [{"data": {"text": "Nightjar again, and Dana Whitlock."}}])
    texts = [t["data"]["text"] for t in tasks.list_tasks(side.ctx(rt, "owner"), project.id)["items"]]
    assert texts[-1] == "[CODENAME_1] again, and [PERSON_1]."


def test_a_project_without_a_policy_is_stored_as_imported(rt):
    side = make_side(rt, "none", n_tasks=0)
    project = _project(rt, side, config={"type": "classification", "labels": ["a", "b"]})
    _import(rt, project.id, [{"data": {"text": "Dana Whitlock, jane@example.com"}}])
    assert (
        tasks.list_tasks(side.ctx(rt, "owner"), project.id)["items"][0]["data"]["text"]
        == "Dana Whitlock, jane@example.com"
    )
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(schema.task_redactions)).all() == []


POLICY_MORE = {"dictionaries": {**POLICY["dictionaries"], "person": ["Dana Whitlock", "Priya Raghunathan"]}}
OTHER = {
    "type": "classification",
    "field": "body",
    "labels": ["memo"],
    "other": True,
    "redaction": POLICY_MORE,
    "leak_tracing": {"variants": {"enabled": False}},
}


def test_an_annotator_cannot_link_two_tasks_by_their_pseudonyms(rt):
    side = make_side(rt, "link", n_tasks=0)
    project = _project(rt, side, config={**SPANS, "redaction": POLICY_MORE})
    # The same person in the first and the third task, another in the second.
    _import(
        rt,
        project.id,
        [
            {"data": {"text": "Dana Whitlock reviewed Nightjar."}, "external_id": "a"},
            {"data": {"text": "Priya Raghunathan reviewed Nightjar."}, "external_id": "b"},
            {"data": {"text": "Dana Whitlock reviewed Kestrel Prime."}, "external_id": "c"},
        ],
    )
    annotator = side.ctx(rt, "annotator")
    served = []
    while (task := queue.next_task(annotator, project.id)) is not None:
        served.append(task["data"]["text"])
        annotations.submit_annotation(annotator, task["id"], {"spans": []})
    assert served == ["[PERSON_1] reviewed [CODENAME_1]."] * 3


def test_pseudonyms_are_numbered_per_task_across_fields_predictions_and_gold(rt):
    side = make_side(rt, "num", n_tasks=0)
    project = _project(rt, side, config=OTHER)
    _import(
        rt,
        project.id,
        [
            {
                "data": {"title": "Nightjar memo", "body": "Dana Whitlock wrote to jane@example.com about Nightjar."},
                "predictions": [{"label": "other", "other_text": "Kestrel Prime and Nightjar, per jane@example.com"}],
                "external_id": "memo",
            },
            {
                "data": {"title": "Kestrel Prime memo", "body": "Priya Raghunathan wrote to bob@example.com."},
                "gold": {"label": "other", "other_text": "Dana Whitlock, not Priya Raghunathan"},
                "external_id": "gold",
            },
        ],
    )
    memo, gold = _stored(rt, project.id)
    owner = side.ctx(rt, "owner")
    task = tasks.get_task(owner, memo.id)
    assert task["data"] == {"title": "[CODENAME_1] memo", "body": "[PERSON_1] wrote to [EMAIL_1] about [CODENAME_1]."}
    assert task["predictions"] == [{"label": "other", "other_text": "[CODENAME_2] and [CODENAME_1], per [EMAIL_1]"}]
    rows = [
        orjson.loads(line)
        for line in b"".join(
            exports.start_export(owner, project.id, request=exports.ExportRequest()).chunks()
        ).splitlines()
    ]
    (shown_gold,) = [row for row in rows if row["id"] == gold.id]
    assert shown_gold["data"] == {"title": "[CODENAME_1] memo", "body": "[PERSON_1] wrote to [EMAIL_1]."}
    assert shown_gold["gold"] == {"label": "other", "other_text": "[PERSON_2], not [PERSON_1]"}
    # Owners get the values back: each task's own numbers, from its own record.
    original = _reidentify(rt, side, memo.id)
    assert original["predictions"] == [
        {"label": "other", "other_text": "Kestrel Prime and Nightjar, per jane@example.com"}
    ]
    restored = [
        orjson.loads(line)
        for line in b"".join(
            exports.start_export(
                owner,
                project.id,
                request=exports.ExportRequest(
                    reidentify=True, approval=side.approval(rt, "redaction.reidentify", {"project": project.id})
                ),
            ).chunks()
        ).splitlines()
    ]
    (restored_gold,) = [row for row in restored if row["id"] == gold.id]
    assert restored_gold["gold"]["other_text"] == "Dana Whitlock, not Priya Raghunathan"
    assert restored_gold["data"]["body"] == "Priya Raghunathan wrote to bob@example.com."


def test_a_leak_of_one_of_two_tasks_alike_after_redaction_is_traced_to_its_recipient(rt):
    # Per-task numbers make tasks that differ only in redacted values the same canonical text.
    side = make_side(rt, "alike", n_tasks=0)
    project = _project(rt, side, config={**SPANS, "leak_tracing": {"variants": {"enabled": True}}})
    (prose,) = generate_items(1, seed=21)
    _import(
        rt,
        project.id,
        [{"data": {"text": f"{prose}\n\nWrite to {who}@example.com."}, "external_id": who} for who in ("jane", "bob")],
    )
    copies = {}
    for i in range(2):
        person = make_user(rt, f"reader{i}.alike@example.com")
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
        task = queue.next_task(as_user(rt, person.id), project.id)
        copies[person.id] = (task["id"], task["data"]["text"])
    first, second = (t["data"]["text"] for t in tasks.list_tasks(system(rt), project.id)["items"])  # canonical
    assert first == second and first.endswith("Write to [EMAIL_1].")
    for guilty, (task_id, text) in copies.items():
        report = tracing.trace(side.ctx(rt, "owner"), project.id, [text])
        assert report["verdict"] == "conclusive" and report["suspects"] == [guilty], report
        assert task_id in {s["task_id"] for s in report["sources"]}
