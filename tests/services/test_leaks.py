"""Leak tracing wired in: variants per person, spans mapped back, canaries in the queue, tracing.

Both databases. The statistics themselves are tested at a small size in
tests/unit/test_leak_trace.py and at full size by benchmarks/leaks.py.
"""

from __future__ import annotations

import random
import re

import orjson
import pytest
from sqlalchemy import func, select

from bastion.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bastion.leaks.canaries import canary_fact
from bastion.leaks.simulation import (
    ATTACKS,
    CANARY_TEXT,
    generate_items,
    paraphrase,
    paraphrase_canary,
)
from bastion.leaks.slots import find_slots
from bastion.leaks.variants import render_variant
from bastion.services import (
    annotations,
    canaries,
    exports,
    imports,
    projects,
    queue,
    tasks,
    tracing,
    workspaces,
)
from bastion.storage import schema
from bastion.storage.workspace_secret import workspace_key_id, workspace_secret
from factories import as_user, make_side, make_user, operator_tx, system

NON_OWNERS = ("manager", "reviewer", "annotator", "auditor")
SPANS = {"type": "spans", "labels": ["THING", "PHRASE"]}
CLASSIFY = {"type": "classification", "labels": ["a", "b"]}


def _people(rt, side, n: int, tag: str) -> list[str]:
    out = []
    for i in range(n):
        user = make_user(rt, f"ann{i}.{tag}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        out.append(user.id)
    return out


def _project(rt, side, config, overlap: int, name: str = "Traced"):
    return projects.create_project(
        system(rt), side.workspace_id, name=name, config=config, settings={"overlap": overlap}
    )


def _canonical(rt, project_id) -> dict[str, dict]:
    return {t["id"]: t for t in tasks.list_tasks(system(rt), project_id, limit=1000)["items"]}


def test_each_person_sees_their_own_variant_and_spans_map_back_exactly(rt):
    side = make_side(rt, "var", n_tasks=0)
    project = _project(rt, side, SPANS, overlap=4)
    text = generate_items(1, seed=7)[0]
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": text}})])
    ((task_id, canonical),) = ((k, v["data"]["text"]) for k, v in _canonical(rt, project.id).items())
    assert canonical == text
    slots = find_slots(canonical)
    assert len(slots) >= 20
    words = [
        m
        for m in re.finditer(r"[A-Za-z]{6,}", canonical)
        if canonical.count(m.group()) == 1 and not any(s.start < m.end() and m.start() < s.end for s in slots)
    ]
    assert len(words) >= 5
    people = _people(rt, side, 4, "var")
    secret = workspace_secret(rt.keyring, side.workspace_id)
    shown_texts = {}
    for person in people:
        ctx = as_user(rt, person)
        task = queue.next_task(ctx, project.id)
        assert task["id"] == task_id
        shown = task["data"]["text"]
        shown_texts[person] = shown
        assert tasks.get_task(ctx, task_id)["data"]["text"] == shown  # the same person sees the same variant
        variant = render_variant(canonical, secret=secret, person_id=person, task_id=task_id, field_path="text")
        assert variant.text == shown  # what the core computes for this person is what they were shown
        # Words outside slots (where this person sees them), and one whole slot region in its alternate form.
        spans = []
        for m in words[:5]:
            start, end = variant.to_variant(m.start(), m.end())
            assert shown[start:end] == m.group()
            spans.append({"start": start, "end": end, "label": "THING", "text": m.group()})
        expected = [(m.start(), m.end(), m.group()) for m in words[:5]]
        flipped = [
            slot
            for slot, bit in zip(variant.slots, variant.bits, strict=True)
            if bit and len(slot.regions) == 1 and slot.regions[0].alternate[0].isalpha()
        ]
        region = flipped[0].regions[0]
        start, end = variant.to_variant(region.start, region.end)
        assert shown[start:end] == region.alternate
        spans.append({"start": start, "end": end, "label": "PHRASE"})
        expected.append((region.start, region.end, region.canonical))
        result = annotations.submit_annotation(ctx, task_id, {"spans": spans})
        assert sorted((s["start"], s["end"], s["text"]) for s in result["result"]["spans"]) == sorted(
            (s["start"], s["end"], shown[s["start"] : s["end"]]) for s in spans
        )  # answered on their own text
        stored = {(s["start"], s["end"], s["text"]) for s in _stored_result(rt, task_id, person)["spans"]}
        assert stored == set(expected)  # 0 offset errors: labels live on the canonical text
        mine = annotations.list_annotations(ctx, task_id)[0]["result"]["spans"]
        assert all(shown[s["start"] : s["end"]] == s["text"] for s in mine)
    assert len(set(shown_texts.values())) == len(people)  # everyone's copy differs
    assert all(t != canonical for t in shown_texts.values())
    # A span whose text does not match what the person was shown is refused, naming it.
    with pytest.raises(InvalidInput, match=r"spans\[0\]\.text"):
        annotations.submit_annotation(
            side.ctx(rt, "owner"), task_id, {"spans": [{"start": 0, "end": 4, "label": "THING", "text": "zzzz"}]}
        )


def _stored_result(rt, task_id, person):
    row = exports.start_export(system(rt), _project_of(rt, task_id))
    for record in map(orjson.loads, b"".join(row.chunks()).splitlines()):
        for annotation in record["annotations"]:
            if annotation["task_id"] == task_id and annotation["user_id"] == person:
                return annotation["result"]
    raise AssertionError("no stored annotation")


def _project_of(rt, task_id):
    with operator_tx(rt, write=False) as tx:
        return tx.execute(select(schema.tasks.c.project_id).where(schema.tasks.c.id == task_id)).scalar_one()


def test_projects_can_opt_out_of_variants(rt):
    side = make_side(rt, "opt", n_tasks=0)
    project = _project(rt, side, {**CLASSIFY, "leak_tracing": {"variants": {"enabled": False}}}, overlap=2)
    text = generate_items(1, seed=3)[0]
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": text}})])
    shown = [queue.next_task(as_user(rt, p), project.id)["data"]["text"] for p in _people(rt, side, 2, "opt")]
    assert shown == [text, text]


def test_the_workspace_secret_is_made_once_and_shredded_with_the_workspace(rt):
    side = make_side(rt, "sec", n_tasks=0)
    first = workspace_secret(rt.keyring, side.workspace_id)
    assert len(first) == 32 and workspace_secret(rt.keyring, side.workspace_id) == first
    rt.keyring.forget_cache()
    assert workspace_secret(rt.keyring, side.workspace_id) == first
    other = make_side(rt, "sec2", n_tasks=0)
    assert workspace_secret(rt.keyring, other.workspace_id) != first
    assert workspace_key_id(side.workspace_id) in {k["id"] for k in rt.keyring.keys_of(side.workspace_id)}
    workspaces.delete_workspace(
        side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "workspace.delete")
    )
    assert rt.keyring.keys_of(side.workspace_id) == []


def test_canaries_are_owner_approved_rendered_per_recipient_and_never_annotations(rt, monkeypatch):
    side = make_side(rt, "can", n_tasks=0)
    config = {**CLASSIFY, "leak_tracing": {"canary_rate": 0.2}}
    project = projects.create_project(
        side.ctx(rt, "owner"), side.workspace_id, name="C", config=config, settings={"overlap": 3}
    )
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"real item {i}"}}) for i in range(1, 4)])
    template = {"text": CANARY_TEXT}
    for role in NON_OWNERS:
        with pytest.raises(PermissionDenied):
            canaries.create_canary(side.ctx(rt, role), project.id, template)
    with pytest.raises(NotFound):
        canaries.create_canary(as_user(rt, make_user(rt, "out.can@example.com").id), project.id, template)
    with pytest.raises(InvalidInput, match=r"missing: place"):
        canaries.create_canary(side.ctx(rt, "owner"), project.id, {"text": "{name} {figure} {date}"})
    with pytest.raises(InvalidInput, match="unknown: colour"):
        canaries.create_canary(side.ctx(rt, "owner"), project.id, {"text": CANARY_TEXT + " {colour}"})
    with pytest.raises(InvalidInput, match="data.text"):
        canaries.create_canary(side.ctx(rt, "owner"), project.id, {"body": CANARY_TEXT})
    canary = canaries.create_canary(side.ctx(rt, "owner"), project.id, template)
    assert canary["state"] == "draft" and canary["id"].startswith("tsk_")
    monkeypatch.setattr(canaries.random, "random", lambda: 0.0)  # every lease would be a canary if one were approved
    people = _people(rt, side, 3, "can")
    first = queue.next_task(as_user(rt, people[0]), project.id)
    assert first["id"] != canary["id"]  # a draft is never issued
    annotations.submit_annotation(as_user(rt, people[0]), first["id"], {"label": "a"})
    for role in NON_OWNERS:
        with pytest.raises(PermissionDenied):
            canaries.set_canary_state(side.ctx(rt, role), canary["id"], "approved")
    approved = canaries.set_canary_state(side.ctx(rt, "owner"), canary["id"], "approved")
    assert approved["state"] == "approved" and approved["approved_by"] == side.users["owner"]
    with pytest.raises(Conflict):
        canaries.set_canary_state(side.ctx(rt, "owner"), canary["id"], "approved")
    assert queue.next_task(side.ctx(rt, "owner"), project.id)["id"] != canary["id"]  # owners know them already

    secret = workspace_secret(rt.keyring, side.workspace_id)
    shown = {}
    for person in people[:2]:
        ctx = as_user(rt, person)
        task = queue.next_task(ctx, project.id)
        assert task["id"] == canary["id"]
        facts = canary_fact(secret, canary["id"], person).formatted()
        assert task["data"]["text"] == CANARY_TEXT.format(**facts)
        assert tasks.get_task(ctx, canary["id"])["data"] == task["data"]
        shown[person] = task["data"]["text"]
        answer = annotations.submit_annotation(ctx, canary["id"], {"label": "b"})
        assert answer["id"].startswith("ann_") and answer["result"] == {"label": "b"}
        assert annotations.list_annotations(ctx, canary["id"]) == [answer]  # looks like any other task
        assert queue.next_task(ctx, project.id)["id"] != canary["id"]  # once per person
    assert shown[people[0]] != shown[people[1]]
    # Not an annotation: no row, no export, no listing; others do not even see it.
    with operator_tx(rt, write=False) as tx:
        assert (
            tx.execute(
                select(func.count()).select_from(schema.annotations).where(schema.annotations.c.task_id == canary["id"])
            ).scalar_one()
            == 0
        )
    counts = projects.get_project(side.ctx(rt, "owner"), project.id).counts
    assert counts.tasks == 3 and counts.done == 0
    assert counts.annotations == 3  # 1 real, 2 canary answers: the counter must not give a canary away
    exported = b"".join(exports.start_export(side.ctx(rt, "owner"), project.id).chunks())
    assert canary["id"].encode() not in exported and b"Pilot summary" not in exported
    assert canary["id"] not in {t["id"] for t in tasks.list_tasks(side.ctx(rt, "manager"), project.id)["items"]}
    with pytest.raises(NotFound):
        tasks.get_task(side.ctx(rt, "manager"), canary["id"])
    with pytest.raises(PermissionDenied, match="not assigned to you"):  # like any task not handed to them
        tasks.get_task(as_user(rt, people[2]), canary["id"])
    detail = canaries.get_canary(
        side.ctx(rt, "owner"), canary["id"], approval=side.approval(rt, "canary.list", {"canary": canary["id"]})
    )
    assert {r["user_id"] for r in detail["recipients"]} == set(people[:2])
    assert detail["issued"] == 2 and detail["answered"] == 2
    # A paraphrase of one recipient's copy names that recipient.
    leaked = paraphrase_canary(canary_fact(secret, canary["id"], people[1]).formatted(), random.Random(4))
    report = tracing.trace(side.ctx(rt, "owner"), project.id, [leaked])
    assert report["verdict"] == "conclusive" and report["suspects"] == [people[1]]
    assert report["canaries"][0]["user_id"] == people[1] and report["canaries"][0]["identified"]
    # Retired: no longer issued.
    canaries.set_canary_state(side.ctx(rt, "owner"), canary["id"], "retired")
    assert queue.next_task(as_user(rt, people[2]), project.id)["id"] != canary["id"]


def _traced_project(rt, tag: str, n_people: int):
    side = make_side(rt, tag, n_tasks=0)
    project = _project(rt, side, CLASSIFY, overlap=n_people)
    items = generate_items(4, seed=11)
    imports.import_tasks(system(rt), project.id, [(i + 1, {"data": {"text": t}}) for i, t in enumerate(items)])
    people = _people(rt, side, n_people, tag)
    copies: dict[str, dict[str, str]] = {}
    for person in people:
        ctx = as_user(rt, person)
        while (task := queue.next_task(ctx, project.id)) is not None:
            copies.setdefault(person, {})[task["id"]] = task["data"]["text"]
            annotations.submit_annotation(ctx, task["id"], {"label": "a"})
    return side, project, people, copies


def test_trace_names_the_leaker_among_the_recipients_and_nobody_on_weak_evidence(rt):
    side, project, people, copies = _traced_project(rt, "trc", 5)
    owner = side.ctx(rt, "owner")
    rng = random.Random(9)
    guilty = people[3]
    task_id = sorted(copies[guilty])[1]
    for attack in ("html_sanitiser", "nfkc_zero_width", "half_excerpt"):
        leaked = ATTACKS[attack](copies[guilty][task_id], rng)
        report = tracing.trace(owner, project.id, [leaked])
        assert report["verdict"] == "conclusive", attack
        assert report["suspects"] == [guilty]
        assert report["sources"][0]["task_id"] == task_id and report["sources"][0]["recipients"] == 5
        top = report["ranking"][0]
        assert top["user_id"] == guilty and top["email"].startswith("ann3.")
        assert top["p_innocent_as_good"] < 1e-4
        assert all(r["p_innocent_as_good"] > 1e-4 for r in report["ranking"][1:])
    # Paraphrase defeats the slots: the source is found, nobody is named.
    report = tracing.trace(owner, project.id, [paraphrase(copies[guilty][task_id], rng)])
    assert report["verdict"] == "inconclusive" and report["suspects"] == []
    # An unrelated text: inconclusive, no source.
    report = tracing.trace(owner, project.id, ["Minutes of the allotment society: the marrows won again this year."])
    assert report == {**report, "verdict": "inconclusive", "source_found": False, "suspects": [], "ranking": []}
    # Evidence accumulates: two sentences of each item are weak alone, strong together.
    short = [" ".join(re.split(r"(?<=[.!?])\s+", copies[guilty][t])[:2]) for t in sorted(copies[guilty])]
    alone = [tracing.trace(owner, project.id, [s]) for s in short]
    pooled = tracing.trace(owner, project.id, short)
    assert pooled["slots_read"] == sum(r["slots_read"] for r in alone)
    mine = [next(s for s in r["ranking"] if s["user_id"] == guilty) for r in alone if r["ranking"]]
    top = pooled["ranking"][0]
    assert top["user_id"] == guilty
    assert (top["observed"], top["matched"]) == (sum(s["observed"] for s in mine), sum(s["matched"] for s in mine))
    assert top["p_value"] < max(s["p_value"] for s in mine)


def test_only_owners_trace_and_tracing_is_audited(rt):
    side, project, people, copies = _traced_project(rt, "tra", 2)
    leaked = next(iter(copies[people[0]].values()))
    for role in NON_OWNERS:
        with pytest.raises(PermissionDenied):
            tracing.trace(side.ctx(rt, role), project.id, [leaked])
    with pytest.raises(NotFound):
        tracing.trace(as_user(rt, make_user(rt, "out.tra@example.com").id), project.id, [leaked])
    with pytest.raises(InvalidInput, match=r"excerpts\[1\]"):
        tracing.trace(side.ctx(rt, "owner"), project.id, [leaked, "  "])
    with pytest.raises(InvalidInput, match="alpha"):
        tracing.trace(side.ctx(rt, "owner"), project.id, [leaked], alpha=0.5)
    report = tracing.trace(side.ctx(rt, "owner"), project.id, [leaked])
    from bastion.services import audit

    entries = [
        e
        for e in audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"]
        if e["action"] == "leaks.traced"
    ]
    assert len(entries) == 1 and entries[0]["details"]["suspects"] == report["suspects"]
    assert leaked not in orjson.dumps(entries).decode()  # the log holds who and what verdict, never the text
