"""Label Studio over the API: a project from its labelling config, an export with its config."""

from __future__ import annotations

from pathlib import Path

import orjson

from bastion.services import workspaces
from factories import make_side, make_user, system

PAIRWISE = Path(__file__).resolve().parents[1] / "fixtures" / "labelstudio" / "pairwise"
CHOICES_AND_MORE = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>'
    '<Number name="n" toName="text"/></View>'
)


def test_a_project_from_a_label_studio_config(client, rt):
    side = make_side(rt, "lsp", n_tasks=0)
    path = f"/api/v1/workspaces/{side.workspace_id}/projects/from-label-studio"
    r = client.post(
        path,
        headers=side.headers("owner"),
        json={"name": "From LS", "label_config": CHOICES_AND_MORE, "settings": {"overlap": 2}},
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == f"/api/v1/projects/{made['project']['id']}"
    assert [label["value"] for label in made["project"]["config"]["labels"]] == ["pos", "neg"]
    assert made["project"]["settings"]["overlap"] == 2
    assert made["unconverted"] == ["<Number name='n'>: a classification project has no place for it"]
    r = client.post(path, headers=side.headers("owner"), json={"name": "Bad", "label_config": "<View>"})
    assert r.status_code == 422 and "not well-formed" in r.json()["error"]["message"]
    r = client.post(path, headers=side.headers("annotator"), json={"name": "No", "label_config": CHOICES_AND_MORE})
    assert r.status_code == 403


def test_a_pairwise_export_comes_with_its_config(client, rt):
    side = make_side(rt, "lsx", n_tasks=0)
    for n in (1, 2, 3):
        person = make_user(rt, f"annotator{n}@labels.example.com")
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    xml = (PAIRWISE / "config.xml").read_text()
    made = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/projects/from-label-studio",
        headers=side.headers("owner"),
        json={"name": "Pairs", "label_config": xml},
    ).json()
    tasks_path = f"/api/v1/projects/{made['project']['id']}/tasks?from=label-studio"
    export = orjson.loads((PAIRWISE / "export-full.json").read_bytes())
    r = client.post(tasks_path, headers=side.headers("owner"), content=orjson.dumps(export))
    assert r.status_code == 200 and r.json()["imported"] == 0  # without the config, the two texts are unknown
    assert "data.responses" in r.json()["rejected"][0]["error"]
    r = client.post(
        tasks_path, headers=side.headers("owner"), content=orjson.dumps({"label_config": xml, "tasks": export})
    )
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], r.json()["rejected"]) == (len(export), [])
    r = client.post(tasks_path, headers=side.headers("owner"), content=orjson.dumps({"label_config": 1, "tasks": []}))
    assert r.status_code == 422 and "label_config" in r.json()["error"]["message"]
