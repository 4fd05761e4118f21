"""The command line for need-to-know: trace a leaked file, export with re-identification, held items."""

from __future__ import annotations

import orjson

from bastion.access import Actor
from bastion.leaks.simulation import generate_items
from bastion.services import queue
from bastion.services.context import Context
from bastion.services.runtime import Runtime
from bastion.settings import Settings


def test_trace_export_reidentify_and_held_items(cli, tmp_path):
    cli("init")
    cli("user", "create", "owner@example.com")
    people = [cli("user", "create", f"w{i}@example.com").stdout.strip() for i in range(3)]
    ws = cli("workspace", "create", "Acme", "--owner", "owner@example.com").stdout.strip()
    for i in range(3):
        cli("member", "add", ws, f"w{i}@example.com", "--role", "annotator")
    config = tmp_path / "p.json"
    config.write_bytes(
        orjson.dumps(
            {"type": "classification", "labels": ["a", "b"], "redaction": {"dictionaries": {"codename": ["Nightjar"]}}}
        )
    )
    project = cli("project", "create", ws, "--config", str(config), "--overlap", "3").stdout.strip()
    rich = generate_items(1, seed=23)[0]
    items = tmp_path / "items.jsonl"
    items.write_bytes(
        b"\n".join(
            orjson.dumps(x)
            for x in [
                {"data": {"text": "Nightjar launches soon. " + rich}, "external_id": "rich"},
                {"data": {"text": "See the token eyJub3RqdXN0.eyJhYmNkZWZn.c2ln in the log."}, "external_id": "odd"},
            ]
        )
        + b"\n"
    )
    assert "imported 2" in cli("import", project, str(items)).stdout

    rt = Runtime.open(Settings(), migrate_schema="never")  # the same data, for the annotators' side
    try:
        copies = {}
        for person in people:
            task = queue.next_task(Context(rt, Actor(kind="user", user_id=person)), project)
            copies[person] = task["data"]["text"]
            assert copies[person].startswith("[CODENAME_1] launches soon.")
            assert queue.next_task(Context(rt, Actor(kind="user", user_id=person)), project)["id"] == task["id"]
    finally:
        rt.close()
    assert len(set(copies.values())) == 3

    leaked = tmp_path / "leaked.txt"
    leaked.write_text(copies[people[1]].upper())  # case changes do not matter
    out = cli("trace", project, str(leaked)).stdout
    assert "verdict: conclusive" in out and f"suspects: {people[1]}" in out and "w1@example.com" in out
    report = orjson.loads(cli("trace", project, str(leaked), "--json").stdout)
    assert report["suspects"] == [people[1]] and report["ranking"][0]["email"] == "w1@example.com"
    unrelated = tmp_path / "unrelated.txt"
    unrelated.write_text("The village fete raised enough for a new roof on the scout hut.")
    out = cli("trace", project, str(unrelated)).stdout
    assert "verdict: inconclusive" in out and "suspects" not in out
    failed = cli("trace", project, str(tmp_path / "missing.txt"), ok=False)
    assert failed.exit_code == 1 and "missing.txt: cannot read" in failed.stderr

    plain, restored = tmp_path / "plain.jsonl", tmp_path / "restored.jsonl"
    cli("export", project, "--out", str(plain))
    cli("export", project, "--reidentify", "--out", str(restored))
    rows = {r["external_id"]: r for r in map(orjson.loads, restored.read_bytes().splitlines())}
    assert rows["rich"]["data"]["text"].startswith("Nightjar launches soon.")
    assert b"Nightjar" not in plain.read_bytes()

    held = cli("held", "list", project).stdout
    assert "low-confidence jwt" in held and "eyJ" not in held
    task_id = orjson.loads(plain.read_bytes().splitlines()[1])["id"]
    assert task_id in held
    assert f"{task_id}: released" in cli("held", "release", task_id).stdout
    again = cli("held", "release", task_id, ok=False)
    assert again.exit_code == 1 and "is not held" in again.stderr
