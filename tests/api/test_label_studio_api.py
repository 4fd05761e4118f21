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


def _export(client, side):
    return client.get(f"/api/v1/projects/{side.project_id}/export?format=label-studio", headers=side.headers("owner"))


def test_a_rubric_with_named_grades_is_refused_before_the_first_byte(client, rt):
    side = make_side(rt, "lsr", n_tasks=0)
    config = {
        "type": "rubric",
        "prompt_field": "prompt",
        "response_field": "response",
        "criteria": [{"name": "stars", "scale": {"min": 1, "max": 5}}, {"name": "grade", "scale": ["pass", "fail"]}],
    }
    r = client.patch(f"/api/v1/projects/{side.project_id}", headers=side.headers("owner"), json={"config": config})
    assert r.status_code == 200, r.text
    line = {"data": {"prompt": "p", "response": "r"}, "predictions": [{"scores": {"stars": 4, "grade": "pass"}}]}
    r = client.post(f"/api/v1/projects/{side.project_id}/tasks", headers=side.headers("owner"), json=[line])
    assert r.json()["imported"] == 1, r.text
    r = _export(client, side)
    assert r.status_code == 422, r.text
    assert "'grade': named grades do not cross to Label Studio" in r.json()["error"]["message"]
    assert "x-bastion-export-id" not in r.headers


def test_boxes_of_an_image_of_unknown_size_are_left_out_and_named(client, rt):
    side = make_side(rt, "lsi", n_tasks=0)
    config = {"type": "image", "field": "image", "box_labels": ["tree"], "image_labels": ["park"]}
    r = client.patch(f"/api/v1/projects/{side.project_id}", headers=side.headers("owner"), json={"config": config})
    assert r.status_code == 200, r.text
    box = {"x": 1, "y": 2, "w": 3, "h": 4, "label": "tree"}
    lines = [
        {
            "data": {"image": "fil_" + "0" * 32},
            "external_id": "unknown",
            "predictions": [{"boxes": [box]}],
            "annotations": [{"completed_by": "annotator.lsi@example.com", "result": {"boxes": [box], "label": "park"}}],
        },
        {
            "data": {"image": "fil_" + "1" * 32, "width": 100, "height": 50},
            "external_id": "known",
            "predictions": [{"boxes": [box]}],
        },
    ]
    r = client.post(f"/api/v1/projects/{side.project_id}/tasks", headers=side.headers("owner"), json=lines)
    assert r.json()["imported"] == 2, r.text
    r = _export(client, side)
    assert r.status_code == 200, r.text
    rows = {row["meta"]["external_id"]: row for row in r.json()}
    assert "predictions" not in rows["unknown"] and rows["unknown"]["annotations"] == []
    why = "data.image: the image's size is unknown, so its boxes cannot be given in percent"
    annotation = client.get(f"/api/v1/tasks/{rows['unknown']['id']}/annotations", headers=side.headers("owner"))
    assert rows["unknown"]["meta"]["bastion_left_out"] == [
        f"annotations[0] ({annotation.json()[0]['id']}): {why}",
        f"predictions[0]: {why}",
    ]
    assert rows["known"]["predictions"][0]["result"][0]["value"]["width"] == 3.0
    assert "bastion_left_out" not in rows["known"]["meta"]
