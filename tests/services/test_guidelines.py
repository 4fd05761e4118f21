"""Guidelines: versions, the queue's gate, the version an annotation was made under, diffs, who reads
them (every role, foreign ids, walls, skills), the per-person watermark, sealed at rest, re-encrypted,
shredded, and FAQ entries promoted from answered questions. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.access import WallDenied
from bastion.domain.errors import GuidelinesUnacknowledged, InvalidInput, NotFound, PermissionDenied
from bastion.leaks.simulation import generate_items
from bastion.services import (
    annotations,
    audit,
    guidelines,
    keys,
    labelling,
    projects,
    questions,
    queue,
    workforce,
    workspaces,
)
from bastion.storage import schema
from bastion.storage.crypto import Sealer, TamperedCiphertext, key_id_of
from bastion.storage.keyring import KeyDestroyed
from factories import CLASSIFICATION, add_tasks, as_user, make_side, make_user, operator_tx, system

V1 = "# How to label\n\nPick **pos** when the text praises.\n"
V2 = "# How to label\n\nPick **pos** when the text praises.\n\nPick **neg** when it complains.\n"


def _actions(rt, workspace_id):
    return [e["action"] for e in audit.list_entries(system(rt), workspace_id, limit=1000)["items"]]


def _versions_of_annotations(rt, project_id):
    with operator_tx(rt, write=False) as tx:
        rows = tx.execute(
            select(schema.annotations.c.user_id, schema.annotations.c.guideline_version).where(
                schema.annotations.c.project_id == project_id
            )
        ).all()
    return sorted((row.guideline_version for row in rows), key=lambda v: (v is None, v))


def test_a_new_version_gates_the_queue_until_acknowledged(rt, db_kind):
    side = make_side(rt, "gate", n_tasks=6, settings={"overlap": 1})
    manager, worker = side.ctx(rt, "manager"), side.ctx(rt, "annotator")
    # No guidelines: nothing gates, and the annotation records no version.
    task = queue.next_task(worker, side.project_id)
    annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    assert _versions_of_annotations(rt, side.project_id) == [None]

    made = guidelines.create_version(manager, side.project_id, V1)
    assert made["version"] == 1 and made["requires_ack"] is True
    with pytest.raises(GuidelinesUnacknowledged) as refused:
        queue.next_task(worker, side.project_id)
    assert refused.value.code == "guidelines_unacknowledged"
    assert refused.value.details == {"project_id": side.project_id, "version": 1}
    # The labelling page shows the owed version instead of a task, and a lease there is refused quietly.
    view = labelling.labelling_view(worker, side.project_id, lease=True)
    assert view.task is None and view.guidelines.owed == 1 and "How to label" in view.guidelines.body
    assert view.overlay is not None and side.users["annotator"] in view.overlay["text"]
    # The author acknowledged by writing it; the annotator now acknowledges.
    assert guidelines.list_versions(manager, side.project_id)["owed"] is None
    ack = guidelines.acknowledge(worker, side.project_id, 1)
    assert ack["acknowledged"] == 1 and ack["owed"] is None
    task = queue.next_task(worker, side.project_id)
    # Version 2 comes out while the task is held: the held task stays theirs, and its annotation was made
    # under version 1; the next one waits.
    guidelines.create_version(manager, side.project_id, V2)
    assert queue.next_task(worker, side.project_id)["id"] == task["id"]  # renewing the lease is not refused
    annotation, after = annotations.submit_and_next(worker, task["id"], {"label": "neg"})
    assert after is None and annotation["guidelines_owed"] == 2  # the submit stood
    assert _versions_of_annotations(rt, side.project_id) == [1, None]
    with pytest.raises(GuidelinesUnacknowledged):
        queue.next_task(worker, side.project_id)
    with pytest.raises(GuidelinesUnacknowledged):  # nothing else anywhere: the cross-project queue says why
        queue.next_any(worker)
    # A typo fix (no acknowledgement needed) does not gate, and counts as the version in force.
    guidelines.acknowledge(worker, side.project_id, 2)
    guidelines.create_version(manager, side.project_id, V2.replace("complains", "complains."), requires_ack=False)
    task = queue.next_task(worker, side.project_id)
    annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    assert _versions_of_annotations(rt, side.project_id) == [1, 3, None]
    # Acknowledging an older version than one's own changes nothing; an unknown one is not there.
    assert guidelines.acknowledge(worker, side.project_id, 1)["acknowledged"] == 2
    with pytest.raises(NotFound):
        guidelines.acknowledge(worker, side.project_id, 9)
    listed = guidelines.list_versions(worker, side.project_id)
    assert [v["version"] for v in listed["items"]] == [3, 2, 1] and listed["newest"] == 3
    assert [v["requires_ack"] for v in listed["items"]] == [False, True, True]
    log = _actions(rt, side.workspace_id)
    for action in ("guidelines.created", "guidelines.acknowledged", "guidelines.read"):
        assert action in log, action
    assert log.count("guidelines.acknowledged") == 2  # the no-op acknowledgement is not recorded


def test_asking_and_giving_back_keeps_the_question_when_the_gate_is_down(rt):
    side = make_side(rt, "gask", n_tasks=3, settings={"overlap": 1})
    worker = side.ctx(rt, "annotator")
    task = queue.next_task(worker, side.project_id)
    guidelines.create_version(side.ctx(rt, "owner"), side.project_id, V1)
    view = labelling.ask_view(worker, side.project_id, task["id"], "Is this praise?", keep_lease=False)
    assert view.task is None and view.guidelines.owed == 1
    assert [q["text"] for q in questions.my_questions(worker, side.project_id)] == ["Is this praise?"]


def test_diff_between_versions(rt):
    side = make_side(rt, "diff", n_tasks=0)
    manager = side.ctx(rt, "manager")
    guidelines.create_version(manager, side.project_id, V1)
    guidelines.create_version(manager, side.project_id, V2)
    diff = guidelines.diff_versions(side.ctx(rt, "annotator"), side.project_id, 1, 2)
    assert diff.unified.startswith("--- version 1\n+++ version 2\n@@")
    assert ("added", "Pick **neg** when it complains.") in diff.lines
    assert not [line for kind, line in diff.lines if kind == "removed"]
    back = guidelines.diff_versions(manager, side.project_id, "2", "1")
    assert ("removed", "Pick **neg** when it complains.") in back.lines
    for bad, field in ((1, "to"), (0, "from"), ("x", "from"), (True, "from")):
        with pytest.raises(InvalidInput, match=field):
            guidelines.diff_versions(manager, side.project_id, bad if field == "from" else 1, bad)
    with pytest.raises(NotFound):
        guidelines.diff_versions(manager, side.project_id, 1, 5)


def test_who_may_write_and_read(rt):
    a = make_side(rt, "ga", n_tasks=1)
    b = make_side(rt, "gb", n_tasks=1)
    guidelines.create_version(a.ctx(rt, "owner"), a.project_id, V1)
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            guidelines.create_version(a.ctx(rt, role), a.project_id, V2)
    # The project's people read them; an auditor (no task content) does not.
    for role in ("owner", "manager", "reviewer", "annotator"):
        assert "How to label" in guidelines.read_version(a.ctx(rt, role), a.project_id)["body"]
    with pytest.raises(PermissionDenied):
        guidelines.read_version(a.ctx(rt, "auditor"), a.project_id)
    wfm = make_user(rt, "wfm.ga@example.com")
    workspaces.add_member(system(rt), a.workspace_id, wfm.id, "workforce_manager")
    with pytest.raises(PermissionDenied):
        guidelines.list_versions(as_user(rt, wfm.id), a.project_id)
    # Another workspace's people and strangers: not there (every call).
    outsider = as_user(rt, make_user(rt, "stranger.ga@example.com").id)
    for ctx in (b.ctx(rt, "owner"), b.ctx(rt, "annotator"), outsider):
        for call in (
            lambda ctx=ctx: guidelines.read_version(ctx, a.project_id),
            lambda ctx=ctx: guidelines.list_versions(ctx, a.project_id),
            lambda ctx=ctx: guidelines.diff_versions(ctx, a.project_id, 1, 2),
            lambda ctx=ctx: guidelines.acknowledge(ctx, a.project_id, 1),
            lambda ctx=ctx: guidelines.create_version(ctx, a.project_id, V2),
        ):
            with pytest.raises(NotFound):
                call()
    with pytest.raises(NotFound):
        guidelines.read_version(a.ctx(rt, "owner"), "prj_" + "0" * 32)
    with pytest.raises(NotFound):
        guidelines.read_version(a.ctx(rt, "owner"), a.project_id, 2)
    # An annotator of the workspace may work on any of its projects, so reads another project's guidelines,
    # unless it needs skills they lack: then they are not its people.
    skilled = projects.create_project(
        a.ctx(rt, "manager"),
        a.workspace_id,
        name="skilled",
        config=CLASSIFICATION,
        settings={"required_skills": {"all": ["law:3"]}},
    )
    add_tasks(rt, skilled.id, 1)
    guidelines.create_version(a.ctx(rt, "manager"), skilled.id, V1)
    with pytest.raises(PermissionDenied, match="people who may work on it"):
        guidelines.read_version(a.ctx(rt, "annotator"), skilled.id)
    workforce.grant_skill(system(rt), a.users["annotator"], "law:3")
    assert guidelines.read_version(a.ctx(rt, "annotator"), skilled.id)["version"] == 1
    # Bad input names its field.
    for bad in ("", "  ", "x" * (guidelines.MAX_BODY + 1), "a\x00b", 7):
        with pytest.raises(InvalidInput, match="body"):
            guidelines.create_version(a.ctx(rt, "owner"), a.project_id, bad)
    with pytest.raises(InvalidInput, match="body: the same as version 1"):
        guidelines.create_version(a.ctx(rt, "owner"), a.project_id, V1)
    with pytest.raises(InvalidInput, match="requires_ack"):
        guidelines.create_version(a.ctx(rt, "owner"), a.project_id, V2, requires_ack="no")
    with pytest.raises(InvalidInput, match="version"):
        guidelines.read_version(a.ctx(rt, "owner"), a.project_id, -1)


def test_walled_people_do_not_read_them(rt):
    a, b = make_side(rt, "gwa", 2), make_side(rt, "gwb", 2)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    guidelines.create_version(b.ctx(rt, "owner"), b.project_id, V1)
    expert = make_user(rt, "expert.gw@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, expert.id, "annotator")
    ctx = as_user(rt, expert.id)
    assert queue.next_task(ctx, a.project_id) is not None  # bound to A
    for call in (
        lambda: guidelines.read_version(ctx, b.project_id),
        lambda: guidelines.list_versions(ctx, b.project_id),
        lambda: guidelines.acknowledge(ctx, b.project_id, 1),
    ):
        with pytest.raises(WallDenied):
            call()


def test_each_person_reads_their_own_watermarked_variant(rt):
    side = make_side(rt, "gwm", n_tasks=0)
    text = generate_items(1, seed=5, words=160)[0]
    body = f"# Rules\n\n{text}\n\n```\ndon't touch this code, ok\n```\n"
    guidelines.create_version(side.ctx(rt, "owner"), side.project_id, body)
    shown = {role: guidelines.show_version(side.ctx(rt, role), side.project_id) for role in ("annotator", "reviewer")}
    assert shown["annotator"].body != shown["reviewer"].body  # each person's own wording
    for role, view in shown.items():
        assert view.body.startswith("# Rules") and view.body.endswith("```\ndon't touch this code, ok\n```\n")
        assert view.overlay["text"].startswith(side.users[role])
        # The same person reads the same variant again (and in a later version, for an unchanged line).
        assert guidelines.show_version(side.ctx(rt, role), side.project_id).body == view.body
    guidelines.create_version(side.ctx(rt, "owner"), side.project_id, body + "\nOne more rule.\n")
    diff = guidelines.diff_versions(side.ctx(rt, "annotator"), side.project_id, 1, 2)
    assert [kind for kind, _ in diff.lines if kind in ("added", "removed")] == ["added", "added"]
    assert guidelines.read_version(system(rt), side.project_id, 1)["body"] == body  # the operator: as written
    # A project that turned variants off shows the text as written (the overlay stays).
    plain = projects.create_project(
        side.ctx(rt, "owner"),
        side.workspace_id,
        name="plain",
        config={**CLASSIFICATION, "leak_tracing": {"variants": {"enabled": False}}},
    )
    guidelines.create_version(side.ctx(rt, "owner"), plain.id, body)
    assert guidelines.show_version(side.ctx(rt, "annotator"), plain.id).body == body


def test_sealed_at_rest_re_encrypted_and_shredded(rt):
    side = make_side(rt, "gseal", n_tasks=1)
    other = make_side(rt, "gkeep", n_tasks=1)
    owner = side.ctx(rt, "owner")
    guidelines.create_version(owner, side.project_id, "Secret client wording: zebra-42.\n")
    with operator_tx(rt, write=False) as tx:
        (before,) = tx.execute(select(schema.guidelines)).all()
    assert b"zebra-42" not in bytes(before.body)
    # Re-encryption re-seals the body under the new key; the old key goes, and the old row with it.
    old_key = projects.get_project(system(rt), side.project_id).key_id
    keys.start_new_data_keys(owner, side.workspace_id, approval=side.approval(rt, "keys.rotate"))
    new_key = projects.get_project(system(rt), side.project_id).key_id
    result = keys.reencrypt_project(
        owner, side.project_id, approval=side.approval(rt, "keys.reencrypt", {"project": side.project_id})
    )
    assert result["guidelines"] == 1 and result["retired_keys"] == [old_key]
    with operator_tx(rt, write=False) as tx:
        (after,) = tx.execute(select(schema.guidelines)).all()
    assert key_id_of(after.body) == new_key
    rt.keyring.forget_cache()
    assert "zebra-42" in guidelines.read_version(owner, side.project_id)["body"]
    with pytest.raises(KeyDestroyed):
        Sealer(rt.keyring, side.workspace_id, new_key).open("guidelines", before.id, "body", before.body)
    # A shred: the saved row opens with no key the deployment holds.
    workspaces.delete_workspace(owner, side.workspace_id, approval=side.approval(rt, "workspace.delete"))
    rt.keyring.forget_cache()
    with pytest.raises(KeyDestroyed):
        Sealer(rt.keyring, side.workspace_id, new_key)
    for key in rt.keyring.keys_of(other.workspace_id):
        with pytest.raises((KeyDestroyed, TamperedCiphertext)):
            Sealer(rt.keyring, other.workspace_id, key["id"]).open("guidelines", after.id, "body", after.body)
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(schema.guidelines.c.id)).all() == []
        assert tx.execute(select(schema.guideline_acks.c.user_id)).all() == []


def test_an_answered_question_becomes_an_faq_entry(rt):
    side = make_side(rt, "gfaq", n_tasks=3, settings={"overlap": 1})
    worker, manager = side.ctx(rt, "annotator"), side.ctx(rt, "manager")
    task = queue.next_task(worker, side.project_id)
    asked = questions.ask_question(worker, side.project_id, task["id"], "Is 'great, just great' praise?")
    with pytest.raises(InvalidInput, match="answer the question"):
        guidelines.promote_question(manager, side.project_id, asked["id"], "Is sarcasm praise?", "No.")
    questions.answer_question(manager, side.project_id, asked["id"], "No: sarcasm is neg.")
    # No guidelines yet: the FAQ is the whole first version.
    made = guidelines.promote_question(manager, side.project_id, asked["id"], "Is sarcasm praise?", "No: it is neg.")
    assert made["version"] == 1
    body = guidelines.read_version(system(rt), side.project_id)["body"]
    assert body == "## FAQ\n\n**Q:** Is sarcasm praise?\n\n**A:** No: it is neg.\n"
    # Then it goes under the FAQ heading, before a later section.
    guidelines.create_version(
        manager, side.project_id, "# Rules\n\nBe kind.\n\n## FAQ\n\n**Q:** a?\n\n**A:** b.\n\n## Notes\n\nEnd.\n"
    )
    guidelines.promote_question(manager, side.project_id, asked["id"], "c?", "d.", requires_ack=False)
    body = guidelines.read_version(system(rt), side.project_id)["body"]
    assert body == (
        "# Rules\n\nBe kind.\n\n## FAQ\n\n**Q:** a?\n\n**A:** b.\n\n**Q:** c?\n\n**A:** d.\n\n## Notes\n\nEnd.\n"
    )
    assert guidelines.list_versions(manager, side.project_id)["items"][0]["requires_ack"] is False
    assert guidelines.with_faq_entry("# Rules\n\nBe kind.\n", "q?", "a.") == (
        "# Rules\n\nBe kind.\n\n## FAQ\n\n**Q:** q?\n\n**A:** a.\n"
    )
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            guidelines.promote_question(side.ctx(rt, role), side.project_id, asked["id"], "q", "a")
    other = make_side(rt, "gfaq2", n_tasks=1)
    with pytest.raises(NotFound):
        guidelines.promote_question(other.ctx(rt, "manager"), side.project_id, asked["id"], "q", "a")
    with pytest.raises(NotFound):
        guidelines.promote_question(other.ctx(rt, "manager"), other.project_id, asked["id"], "q", "a")
    with pytest.raises(InvalidInput, match="question"):
        guidelines.promote_question(manager, side.project_id, asked["id"], " ", "a")
    with pytest.raises(InvalidInput, match="answer"):
        guidelines.promote_question(manager, side.project_id, asked["id"], "q", "")
    entries = audit.list_entries(system(rt), side.workspace_id, limit=1000)["items"]
    faq = [e for e in entries if e["action"] == "guidelines.created" and e["details"].get("via") == "faq"]
    assert len(faq) == 2 and faq[0]["details"]["question"] == asked["id"]
