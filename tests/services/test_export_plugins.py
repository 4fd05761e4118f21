"""Export formats from plugins: a third party's format, installed as a distribution, through the API and the CLI.

``tests/plugins/fasttext_export`` holds a package and its ``*.dist-info`` (an
``entry_points.txt`` in the ``bastion`` group), as pip leaves them in
site-packages; the fixture puts that folder on ``sys.path`` and makes the
registries read the entry points again. Nothing here imports the plugin. The
format must then be listed, validated against the project's task type before
the first byte, streamed and signed like a built-in one — over HTTP and from
the command line, where ``bastion export verify`` checks the file.

The last test goes the other way round: a task type from a plugin makes the
rows of a format from a plugin (a kind of rows no built-in knows), and the
built-in ``sft`` format, through ``TaskType.export_rows``.
"""

from __future__ import annotations

import importlib
import io
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel, ConfigDict

from bastion import exporting, plugins, tasktypes
from bastion.audit.manifests import verify_export
from bastion.domain.errors import InvalidAnswer, InvalidInput
from bastion.services import annotations, audit, exports, imports, projects, tasks
from bastion.services.exports import ExportRequest
from bastion.services.runtime import Runtime
from bastion.tasktypes import TaskType
from bastion.tasktypes._export import sft_row
from factories import make_side, system

PLUGIN_ROOT = Path(__file__).resolve().parents[1] / "plugins" / "fasttext_export"
CLASSIFICATION = {"type": "classification", "field": "text", "labels": ["positive", "negative", "not sure"]}
EXPECTED = (
    b"__label__positive Great service, would return\n__label__not_sure Great service, would return\n"
    b"__label__negative Cold soup\n"
)


def _read_plugins_again() -> None:
    plugins.plugin_manager.cache_clear()
    exporting.installed.cache_clear()
    tasktypes.installed.cache_clear()


@pytest.fixture
def fasttext_installed():
    """The plugin's folder on sys.path, as an installed distribution; the registries read again (and after)."""
    sys.path.insert(0, str(PLUGIN_ROOT))
    importlib.invalidate_caches()
    _read_plugins_again()
    try:
        yield
    finally:
        sys.path.remove(str(PLUGIN_ROOT))
        sys.modules.pop("bastion_fasttext", None)
        importlib.invalidate_caches()
        _read_plugins_again()
        assert exporting.installed().find("fasttext") is None  # uninstalled: the next tests see the built-ins


@pytest.fixture
def fasttext_rt(fasttext_installed, settings):
    """A runtime opened with the plugin installed (as a server started after ``pip install``)."""
    runtime = Runtime.open(settings, migrate_schema="never")
    yield runtime
    runtime.close()


def _labelled(rt, tag: str):
    side = make_side(rt, tag, n_tasks=0)
    project = projects.create_project(
        system(rt), side.workspace_id, name="Reviews", config=CLASSIFICATION, settings={"overlap": 2}
    )
    items = [
        {"external_id": "a", "data": {"text": "Great  service,\nwould return"}},
        {"external_id": "b", "data": {"text": "Cold soup"}},
        {"external_id": "c", "data": {"text": "Unread"}},
    ]
    imports.import_tasks(system(rt), project.id, list(enumerate(items, start=1)))
    by_external = {t["external_id"]: t["id"] for t in tasks.list_tasks(system(rt), project.id)["items"]}
    annotations.submit_annotation(side.ctx(rt, "owner"), by_external["a"], {"label": "positive"})
    annotations.submit_annotation(side.ctx(rt, "manager"), by_external["a"], {"label": "not sure"})
    annotations.submit_annotation(side.ctx(rt, "owner"), by_external["b"], {"label": "negative"})
    preference = projects.create_project(
        system(rt), side.workspace_id, name="Pairs", config={"type": "preference", "criteria": []}
    )
    return side, project, preference


def test_the_format_comes_from_the_distributions_entry_point(fasttext_rt):
    rt = fasttext_rt
    pm = plugins.plugin_manager()
    module = pm.get_plugin("fasttext")  # the entry point's name, as pluggy registers it
    assert module is sys.modules["bastion_fasttext"] and Path(module.__file__).is_relative_to(PLUGIN_ROOT)
    assert [dist.project_name for _, dist in pm.list_plugin_distinfo()] == ["bastion-fasttext"]
    assert rt.export_formats.names()[-1] == "fasttext"  # after the built-ins
    assert rt.export_formats.names_for(rt.task_types.get("classification"))[-1] == "fasttext"
    assert "fasttext" not in rt.export_formats.names_for(rt.task_types.get("spans"))


def test_the_api_lists_validates_streams_and_signs_it(fasttext_rt):
    from starlette.testclient import TestClient

    from bastion.web.app import create_app

    rt = fasttext_rt
    side, project, preference = _labelled(rt, "ftapi")
    url = f"/api/v1/projects/{project.id}/export"
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/projects/{project_id}/export"]["get"]
        (param,) = [p for p in operation["parameters"] if p["name"] == "format"]
        assert param["schema"]["enum"][-1] == "fasttext"
        assert "`fasttext` (classification): fastText supervised training lines" in param["description"]
        assert "text/plain" in operation["responses"]["200"]["content"]

        r = client.get(url, params={"format": "fasttext"}, headers=side.headers("manager"))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.headers["content-disposition"] == f'attachment; filename="{project.id}.fasttext.txt"'
        assert r.content == EXPECTED
        export_id = r.headers["x-bastion-export-id"]
        manifest = client.get(f"/api/v1/exports/{export_id}/manifest", headers=side.headers("owner")).json()
        assert manifest["format"] | {"options": None} == {
            "name": "fasttext",
            "media_type": "text/plain; charset=utf-8",
            "filename": f"{project.id}.fasttext.txt",
            "rows": "lossless",
            "per": "task",
            "options": None,
        }
        assert manifest["counts"] | {"per_annotator": None} == {
            "rows": 3,
            "tasks": 3,
            "annotations": 3,
            "per_annotator": None,
        }
        key = client.get("/api/v1/audit/public-key").json()["verifier_key"]
        report = verify_export(manifest, [r.content], key)
        assert report.ok and {"byte length", "SHA-256"} <= set(report.checked), report.problems
        assert not verify_export(manifest, [r.content.replace(b"not_sure", b"positive")], key).ok

        # Refused before the first byte, naming the field and what there is instead.
        refusals = [
            (
                preference.id,
                {"format": "fasttext"},
                "format: preference projects have no fasttext export (they export as: jsonl, json, parquet, sft, dpo, "
                "label-studio)",
            ),
            (
                project.id,
                {"format": "fastext"},
                "format: unknown export format 'fastext' (classification projects "
                "export as: jsonl, json, parquet, label-studio, fasttext)",
            ),
            (project.id, {"format": "fasttext", "with_ids": "true"}, "with_ids: format fasttext does not use this"),
            (project.id, {"format": "fasttext", "rows": "sft"}, "rows: only with format parquet"),
            (
                project.id,
                {"format": "fasttext", "split": "validation=0.5"},
                "split: a fasttext file has no place for a split column",
            ),
        ]
        for project_id, params, message in refusals:
            bad = client.get(f"/api/v1/projects/{project_id}/export", params=params, headers=side.headers("owner"))
            assert bad.status_code == 422, (params, bad.text)
            assert bad.json()["error"]["message"].startswith(message), bad.json()
        exported = [
            e
            for e in audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=500)["items"]
            if e["action"] == "project.exported"
        ]
        assert len(exported) == 1  # the refusals recorded no export
        # A split is exported a part at a time.
        part = client.get(
            url,
            params={"format": "fasttext", "split": "validation=0.5", "part": "train"},
            headers=side.headers("owner"),
        )
        assert part.status_code == 200 and set(part.content.splitlines()) <= set(EXPECTED.splitlines())


def test_the_cli_lists_it_exports_a_file_and_verifies_it(fasttext_rt, tmp_path, monkeypatch, capsys, settings):
    from bastion.cli import main

    monkeypatch.setenv("BASTION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("BASTION_MASTER_KEY", settings.master_key)
    monkeypatch.setenv("COLUMNS", "400")

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["bastion", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        out = capsys.readouterr()
        return code, out.out, out.err

    rt = fasttext_rt
    side, project, preference = _labelled(rt, "ftcli")
    code, out, _ = cli("export", "project", "--help")
    assert code == 0 and (
        "coco (image), conll (spans), label-studio (classification, spans, preference, ranking, writing, rubric, "
        "image), fasttext (classification)"
    ) in " ".join(out.split())

    target = tmp_path / "reviews.txt"
    code, _, err = cli("export", project.id, "--format", "fasttext", "--out", str(target))
    assert code == 0, err
    assert target.read_bytes() == EXPECTED
    manifest = tmp_path / "reviews.txt.manifest.json"
    assert orjson.loads(manifest.read_bytes())["format"]["name"] == "fasttext"
    key = tmp_path / "key.pub"
    key.write_text(audit.public_key(rt) + "\n")
    code, out, err = cli("export", "verify", str(target), "--manifest", str(manifest), "--public-key", str(key))
    assert code == 0 and "ok SHA-256" in out and "verified:" in out, (out, err)

    refused = tmp_path / "pairs.txt"
    code, _, err = cli("export", preference.id, "--format", "fasttext", "--out", str(refused))
    assert code == 1 and "format: preference projects have no fasttext export" in " ".join(err.split())
    assert not refused.exists() and not (tmp_path / "pairs.txt.partial").exists()


# -- a plugin task type with a plugin format's rows ---------------------------------------


class ScoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["score"]
    field: str = "text"
    scale: int = 5


def _scored_rows(config, task: dict, annotation: dict, options) -> list[dict]:
    return [{"text": task["data"][config.field], "score": annotation["result"]["score"] / config.scale}]


def _reward_sft(config, task: dict, annotation: dict, options) -> list[dict]:
    if annotation["result"]["score"] < config.scale:
        return []
    return [
        sft_row(
            config,
            {**task, "data": {"prompt": task["data"][config.field]}},
            annotation,
            "Yes, that is a good answer.",
            options,
        )
    ]


class Score(TaskType):
    """Score a text from 1 to ``scale``: reward-model rows, and SFT rows for the texts scored highest."""

    name = "score"
    title = "Score"
    config_model = ScoreConfig
    package_dir = Path(__file__).parent
    row_kinds = {"scored": _scored_rows, "sft": _reward_sft}

    def validate_result(self, config: ScoreConfig, data: dict, result: Any) -> dict:
        score = result.get("score") if isinstance(result, dict) else None
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= config.scale:
            raise InvalidAnswer(f"result.score: a whole number from 1 to {config.scale}")
        return {"score": score}


def _encode_tsv(rows, encoding):
    for row in rows:
        yield f"{' '.join(row['text'].split())}\t{row['score']:.2f}\n".encode()


SCORED_TSV = exporting.ExportFormat(
    name="scored-tsv",
    media_type="text/tab-separated-values",
    extension="tsv",
    encode=_encode_tsv,
    rows=("scored",),
    split_column=False,
    description="text and score, one annotation a line",
)


class _ScorePlugin:
    """A plugin registered in-process (as an entry point's module would be): a task type and a format of its rows."""

    @plugins.hookimpl
    def bastion_task_types(self):
        return [Score()]

    @plugins.hookimpl
    def bastion_export_formats(self):
        return [SCORED_TSV]


@pytest.fixture
def score_rt(settings):
    _read_plugins_again()
    plugins.plugin_manager().register(_ScorePlugin(), name="score-plugin")
    runtime = Runtime.open(settings, migrate_schema="never")
    try:
        yield runtime
    finally:
        runtime.close()
        plugins.plugin_manager().unregister(name="score-plugin")
        _read_plugins_again()


def test_a_plugin_type_makes_a_plugin_formats_rows_and_a_built_in_formats(score_rt):
    rt = score_rt
    side = make_side(rt, "score", n_tasks=0)
    project = projects.create_project(
        system(rt), side.workspace_id, name="Scores", config={"type": "score", "scale": 4}, settings={"overlap": 2}
    )
    imports.import_tasks(
        system(rt), project.id, [(1, {"data": {"text": "A  fine answer"}}), (2, {"data": {"text": "Meh"}})]
    )
    listed = [t["id"] for t in tasks.list_tasks(system(rt), project.id)["items"]]
    for role, task_id, score in (("owner", listed[0], 4), ("manager", listed[0], 3), ("owner", listed[1], 1)):
        annotations.submit_annotation(side.ctx(rt, role), task_id, {"score": score})
    owner = side.ctx(rt, "owner")

    def export(**options) -> bytes:
        return b"".join(exports.start_export(owner, project.id, request=ExportRequest(**options)).stream())

    assert export(fmt="scored-tsv") == b"A fine answer\t1.00\nA fine answer\t0.75\nMeh\t0.25\n"
    sft = [orjson.loads(line) for line in export(fmt="sft", sft_form="prompt-completion").splitlines()]
    assert sft == [{"prompt": "A  fine answer", "completion": "Yes, that is a good answer."}]
    assert rt.export_formats.names_for(rt.task_types.get("score")) == ["jsonl", "json", "parquet", "sft", "scored-tsv"]
    # Built-in types have no scored rows: the plugin format is not theirs.
    classification = projects.create_project(system(rt), side.workspace_id, name="Labels", config=CLASSIFICATION)
    with pytest.raises(InvalidInput, match="format: classification projects have no scored-tsv export"):
        exports.start_export(owner, classification.id, request=ExportRequest(fmt="scored-tsv"))


def test_a_broken_plugin_format_is_refused_when_plugins_load():
    good = exporting.installed().find("jsonl")
    for broken, message in [
        (replace(good, name="JSON Lines"), "name: 1 to 16 characters"),
        (replace(good, name="a-name-far-too-long"), "name: 1 to 16 characters"),
        (replace(good, name="jsonl2\n"), "name: 1 to 16 characters"),
        (replace(good, rows="sft"), "rows: a tuple"),
        (replace(good, task_types="classification"), "task_types: a tuple"),
        (replace(good, options="chat"), "options: a tuple"),
        (replace(good, extension='x"; evil'), "extension:"),
        (replace(good, media_type="json"), "media_type:"),
        (replace(good, rows=()), "rows:"),
        (replace(good, options=("colour",)), "options: 'colour'"),
        (replace(good, encode=None), "encode:"),
    ]:
        with pytest.raises(RuntimeError, match=message):
            exporting.ExportFormats.of([broken])
    with pytest.raises(RuntimeError, match="two plugins define export format 'jsonl'"):
        exporting.ExportFormats.of([good, good])
    with pytest.raises(RuntimeError, match="not a bastion.exporting.ExportFormat"):
        exporting.ExportFormats.of([{"name": "csv"}])


@pytest.mark.parametrize(
    "type_name,request_,message",
    [
        (
            "preference",
            ExportRequest(fmt="spacy"),
            "format: preference projects have no spacy export (they export as: jsonl, json, parquet, sft, dpo, "
            "label-studio)",
        ),
        (
            "preference",
            ExportRequest(fmt="jsonl", chat="standard"),
            "chat: format jsonl does not use this option (it takes none of: chat, sft_form, dpo_min_strength,"
            " include_ties, with_ids)",
        ),
        (
            "preference",
            ExportRequest(fmt="sft", include_ties=True),
            "include_ties: format sft does not use this option (it takes: chat, sft_form, with_ids)",
        ),
        ("preference", ExportRequest(fmt="parquet", rows="spacy"), "rows: 'spacy' is not one of jsonl, sft, dpo"),
        (
            "classification",
            ExportRequest(fmt="parquet", rows="sft"),
            "rows: classification projects have no sft rows (rows for them: jsonl)",
        ),
        (
            "classification",
            ExportRequest(fmt="xml"),
            "format: unknown export format 'xml' (classification projects export as: jsonl, json, parquet, "
            "label-studio)",
        ),
    ],
)
def test_built_in_formats_are_checked_like_plugins_before_the_first_byte(rt, type_name, request_, message):
    config = CLASSIFICATION if type_name == "classification" else {"type": "preference", "criteria": []}
    side = make_side(rt, "chk", n_tasks=0)
    project = projects.create_project(system(rt), side.workspace_id, name="Checked", config=config)
    with pytest.raises(InvalidInput) as info:
        exports.start_export(side.ctx(rt, "owner"), project.id, request=request_)
    assert info.value.message == message or info.value.message.startswith(message), info.value.message
