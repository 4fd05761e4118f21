"""The migration a user plays: a Label Studio export with three annotators' labels and a model's predictions,
one command, the quality report over those three people, and the way back read by Label Studio's SDK."""

from __future__ import annotations

from pathlib import Path

import orjson

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "labelstudio"
PEOPLE = [f"annotator{i}@labels.example.com" for i in (1, 2, 3)]

SDK_READS = """
import json, sys
from label_studio_sdk.converter import Converter
config, source, out = sys.argv[1:4]
Converter(config=open(config).read(), project_dir=out).convert_to_csv(source, out, sep=",", header=True, is_dir=False)
import csv, glob
rows = list(csv.DictReader(open(glob.glob(out + "/*.csv")[0])))
print(json.dumps(rows))
"""


def test_label_studio_to_bastion_and_back(cli, tmp_path, ls_sdk):
    fixture = FIXTURES / "choices_single"
    cli("init")
    cli("user", "create", "lead@example.com")
    ws = cli("workspace", "create", "Migrated", "--owner", "lead@example.com").stdout.strip()
    for email in PEOPLE:
        cli("user", "create", email)
        cli("member", "add", ws, email, "--role", "annotator")
    made = cli("project", "create", ws, "--from-label-studio", str(fixture / "config.xml"), "--overlap", "3")
    project = made.stdout.strip()

    # The one command.
    result = cli("import", project, str(fixture / "export-full.json"), "--from", "label-studio")
    assert "imported 4, skipped 0 duplicate(s), rejected 0" in result.stdout

    report = orjson.loads(cli("quality", project, "--method", "ds", "--json").stdout)
    assert report["agreement"]["n_annotators"] == 3
    assert report["agreement"]["krippendorff_alpha"]["value"] is not None
    per_person = {row["email"]: row for row in report["aggregation"]["confusion"]["per_annotator"]}
    assert set(per_person) == set(PEOPLE)
    assert all(0 <= row["agreement_with_aggregate"] <= 1 for row in per_person.values())
    # one of annotator3's was cancelled in Label Studio: a skip, not an annotation
    assert report["annotations"] == 10

    out = tmp_path / "back.json"
    cli("export", project, "--format", "label-studio", "--out", str(out))
    back = orjson.loads(out.read_bytes())
    assert len(back) == 4
    assert {p["model_version"] for t in back for p in t["predictions"]} == {"sentiment-v1"}
    rows = orjson.loads(ls_sdk(SDK_READS, str(fixture / "config.xml"), str(out), str(tmp_path / "csv")))
    assert len(rows) == 10  # one row per annotation, each with its label
    assert len({r["id"] for r in rows}) == 4 and all(r["label"] for r in rows)
    original = orjson.loads(fixture.joinpath("export-full.json").read_bytes())
    assert {r["text"] for r in rows} == {t["data"]["text"] for t in original}
