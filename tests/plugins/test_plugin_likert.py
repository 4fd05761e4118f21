"""A third-party task type, installed as a distribution, end to end over the API and the CLI.

``tests/plugins/bastion_likert`` is shipped as its own package (config model, validation,
widget, quality and export hooks, an entry point in the ``bastion`` group); nothing here
imports it — Bastion finds it through its entry point (tests/plugin_distributions.py).
It is driven through import → next → submit → review → export → quality exactly like a
built-in type.
"""

from __future__ import annotations

import io
import sys

import orjson
import pytest

from bastion.services import workspaces
from factories import as_user, make_side, make_token, make_user, system
from plugin_distributions import PLUGINS, installed_distribution

CONFIG = {
    "type": "likert",
    "field": "text",
    "statement": "The reply is polite.",
    "points": ["No", "Hardly", "Somewhat", "Mostly", "Yes"],
}


@pytest.fixture(scope="module", autouse=True)
def likert(tmp_path_factory):
    assert "bastion_likert" not in sys.modules  # the tests never import it
    with installed_distribution(PLUGINS / "bastion_likert", tmp_path_factory.mktemp("site")) as name:
        yield name


def _annotators(rt, side, n: int, tag: str) -> list[dict[str, str]]:
    headers = []
    for i in range(n):
        user = make_user(rt, f"{tag}{i}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        headers.append({"Authorization": f"Bearer {make_token(rt, user.id)}"})
    return headers


def test_the_plugin_is_found_through_its_entry_point(rt):
    from bastion.tasktypes.templates import template_config

    likert = rt.task_types.get("likert")
    assert type(likert).__module__ == "bastion_likert.tasktype"
    assert likert.aggregation_methods == ("median", "mv")
    assert template_config("likert")["type"] == "likert"


def test_a_type_without_offsets_gets_the_default_text_hooks(rt):
    """Redaction, variants and tracing ask every type about its texts; the defaults fit a type without offsets."""
    likert = rt.task_types.get("likert")
    config = likert.parse_config(CONFIG)
    data = {"text": "Thanks, that helps.", "meta": {"notes": ["first", "second"]}, "n": 3}
    assert likert.offset_fields(config) == ()
    assert list(likert.data_texts(config, data)) == [
        ("text", "Thanks, that helps."),
        ("meta.notes[0]", "first"),
        ("meta.notes[1]", "second"),
    ]
    assert list(likert.data_texts(config, data, ("meta.*",), ())) == [
        ("meta.notes[0]", "first"),
        ("meta.notes[1]", "second"),
    ]
    result = {"rating": 4, "rationale": "Polite enough."}
    assert list(likert.result_texts(config, result)) == [("rationale", "Polite enough.")]
    assert likert.map_result_offsets(config, result, lambda field, start, end: (0, 1)) is result
    assert likert.protected_ranges(config, result) == {}


def test_a_likert_project_end_to_end(client, rt):
    side = make_side(rt, "lk", n_tasks=0)
    owner, reviewer = side.headers("owner"), side.headers("reviewer")
    spec = client.get("/api/v1/openapi.json", headers=owner).json()
    aggregate = next(
        p
        for p in spec["paths"]["/api/v1/projects/{project_id}/export"]["get"]["parameters"]
        if p["name"] == "aggregate"
    )
    assert aggregate["schema"]["x-methods-by-task-type"]["likert"] == ["median", "mv"]

    bad = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/projects",
        headers=owner,
        json={"name": "Bad", "config": {**CONFIG, "points": ["Yes", "Yes"]}},
    )
    assert bad.status_code == 422 and "points" in bad.json()["error"]["message"]
    r = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/projects",
        headers=owner,
        json={"name": "Politeness", "config": CONFIG, "settings": {"overlap": 3, "quality": {"review": "all"}}},
    )
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    r = client.post(
        f"/api/v1/projects/{project}/tasks",
        headers=owner,
        json=[{"data": {"text": f"Reply {i}"}} for i in range(4)] + [{"data": {"title": "no text"}}],
    )
    assert r.json()["imported"] == 4 and "data.text" in str(r.json()["rejected"])

    # Three annotators rate every reply: 5, 4, 4 on each (the second and third agree).
    people = _annotators(rt, side, 3, "lk")
    for who, rating in zip(people, (5, 4, 4), strict=True):
        while (r := client.post(f"/api/v1/projects/{project}/next", headers=who)).status_code == 200:
            task = r.json()
            wrong = client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=who, json={"result": {"rating": 6}})
            assert wrong.status_code == 422 and "result.rating" in wrong.json()["error"]["message"]
            done = client.post(
                f"/api/v1/tasks/{task['id']}/annotations", headers=who, json={"result": {"rating": rating}}
            )
            assert done.status_code == 201, done.text
        assert r.status_code == 204

    # Review: accept the first, correct the second (the correction is validated by the plugin).
    first = client.post(f"/api/v1/projects/{project}/review/next", headers=reviewer).json()
    assert (
        client.post(
            f"/api/v1/annotations/{first['annotation']['id']}/review", headers=reviewer, json={"decision": "accept"}
        ).status_code
        == 201
    )
    second = client.post(f"/api/v1/projects/{project}/review/next", headers=reviewer).json()
    assert (
        client.post(
            f"/api/v1/annotations/{second['annotation']['id']}/review",
            headers=reviewer,
            json={"decision": "correct", "correction": {"rating": 0}},
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/annotations/{second['annotation']['id']}/review",
            headers=reviewer,
            json={"decision": "correct", "correction": {"rating": 3}},
        ).status_code
        == 201
    )

    # Export: every task with its median; the plugin's SFT rows; a method that does not fit is refused.
    r = client.get(f"/api/v1/projects/{project}/export?aggregate=median", headers=owner)
    assert r.status_code == 200
    rows = [orjson.loads(line) for line in r.content.splitlines()]
    assert len(rows) == 4 and {row["aggregate"]["label"] for row in rows} == {4}
    manifest = client.get(r.headers["Link"].split(">")[0][1:], headers=owner).json()
    assert manifest["quality"]["kind"] == "likert" and manifest["counts"]["annotations"] == 12
    r = client.get(f"/api/v1/projects/{project}/export?aggregate=ds", headers=owner)
    assert r.status_code == 422 and "methods that fit: median, mv" in r.json()["error"]["message"]
    sft = [
        orjson.loads(line)
        for line in client.get(f"/api/v1/projects/{project}/export?format=sft", headers=owner).content.splitlines()
    ]
    assert len(sft) == 12 and sorted({row["messages"][1]["content"] for row in sft}) == ["Mostly", "Yes"]

    # Quality: the plugin's agreement figures and aggregation, through the generic report.
    report = client.get(f"/api/v1/projects/{project}/quality", headers=owner).json()
    assert report["task_type"] == "likert" and report["annotations"] == 12
    agreement = report["agreement"]
    assert agreement["kind"] == "likert" and agreement["percent_agreement"]["value"] == pytest.approx(1 / 3)
    assert report["aggregation"]["method"] == "median" and report["aggregation"]["methods"] == ["median", "mv"]
    voted = client.get(f"/api/v1/projects/{project}/quality?method=mv", headers=owner).json()["aggregation"]
    assert voted["ties"] == 0 and voted["confusion"]["labels"] == ["4", "5"]
    r = client.get(f"/api/v1/projects/{project}/quality?method=bt", headers=owner)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("method: 'bt' does not fit likert")


def test_the_cli_offers_the_plugin(rt, settings, monkeypatch, capsys, tmp_path):
    from bastion.cli import main

    side = make_side(rt, "lkc", n_tasks=0)
    monkeypatch.setenv("BASTION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("BASTION_MASTER_KEY", settings.master_key)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["bastion", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        else:
            code = 0
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = run("project", "create", side.workspace_id, "--template", "likert")
    assert code == 0, err
    project = out.strip()
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"data": {"text": "Thanks a lot!"}}\n')
    code, _, err = run("import", project, str(tasks))
    assert code == 0, err
    code, _, err = run("export", project, "--aggregate", "bt", "--out", str(tmp_path / "x.jsonl"))
    assert code == 1 and "methods that fit: median, mv" in " ".join(err.split()) and not (tmp_path / "x.jsonl").exists()
    code, _, err = run("export", project, "--aggregate", "median", "--out", str(tmp_path / "x.jsonl"))
    assert code == 0, err
    (row,) = [orjson.loads(line) for line in (tmp_path / "x.jsonl").read_bytes().splitlines()]
    assert row["data"] == {"text": "Thanks a lot!"} and row["aggregate"] is None  # nothing rated yet


def test_the_config_editor_previews_a_type_that_gives_no_sample(client, rt):
    """The live preview asks the type for a sample item; a plugin that gives none gets a sentence in its field."""
    from bastion.services import configs, users
    from bastion.tasktypes.base import SAMPLE_TEXT

    likert = rt.task_types.get("likert")
    assert likert.sample_data(likert.parse_config(CONFIG)) == {"text": SAMPLE_TEXT}
    side = make_side(rt, "lkp", n_tasks=0)
    owner = make_user(rt, "owner.preview@example.com", password="likert preview password")
    workspaces.add_member(system(rt), side.workspace_id, owner.id, "owner")
    check = configs.check_config(as_user(rt, owner.id), side.workspace_id, "{}")
    assert check.problems and check.preview is None
    secret, csrf = users.create_session(rt, users.authenticate(rt, owner.email, "likert preview password"))
    client.cookies.set("bastion_session", secret)
    r = client.post(
        f"/workspaces/{side.workspace_id}/config-check",
        data={"csrf_token": csrf, "config": orjson.dumps({**CONFIG, "points": ["Yes", "Yes"]}).decode()},
    )
    assert r.status_code == 200 and '<code class="path">points</code>: a point is repeated' in r.text
    r = client.post(
        f"/workspaces/{side.workspace_id}/config-check",
        data={"csrf_token": csrf, "config": orjson.dumps(CONFIG).decode()},
    )
    preview = r.text[r.text.index('id="config-preview"') :]
    assert 'data-task-type="likert"' in r.text and "The reply is polite." in preview and "Hardly" in preview
    assert "The parcel arrived two days late" in preview
    client.cookies.clear()
