"""The quality page speaks the project's words: preference choices as A/B (never 0/1), and a
throughput chart with axes, their labels and ticks."""

from __future__ import annotations

import re

from bastion.services import annotations, projects, queue, users, workspaces
from factories import as_user, make_project, make_user, system

PASSWORD = "quality words password"


def _pairs(rt, tag: str):
    owner = make_user(rt, f"owner.{tag}@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), f"Quality {tag}", owner=owner.id)
    project = make_project(rt, ws.id, name="Pairs", config={"type": "preference"}, settings={"overlap": 2})
    from bastion.services import imports

    items = [
        (i + 1, {"data": {"prompt": f"Question {i}", "responses": [f"first {i}", f"second {i}"]}}) for i in range(6)
    ]
    imports.import_tasks(system(rt), project.id, items)
    for n in range(2):
        person = make_user(rt, f"rater{n}.{tag}@example.com")
        workspaces.add_member(system(rt), ws.id, person.id, "annotator")
        worker = as_user(rt, person.id)
        for i in range(6):
            task = queue.next_task(worker, project.id)
            choice = 0 if (i + n) % 3 else 1
            annotations.submit_annotation(worker, task["id"], {"preferred": choice, "strength": "clear"})
    projects.get_project(as_user(rt, owner.id), project.id)
    return owner, project


def test_preference_quality_page(client, rt):
    owner, project = _pairs(rt, "pref")
    secret, _ = users.create_session(rt, users.authenticate(rt, owner.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    page = client.get(f"/projects/{project.id}/quality")
    assert page.status_code == 200
    text = page.text
    agreement = text[text.index('id="agreement"') :].split("</section>")[0]
    assert "response 1" in agreement and "response 2" in agreement
    assert not re.search(r"<td>[01]</td>", agreement)  # no bare 0/1 as a label
    assert "labels 0" not in agreement and "and 1" not in agreement  # the summary names them too
    aggregation = text[text.index('id="aggregation"') :].split("</section>")[0]
    assert not re.search(r"<th>[01]</th>", aggregation) and "<th>response 1</th>" in aggregation
    chart = text[text.index('<svg class="chart"') :].split("</svg>")[0]
    assert chart.count('class="axis"') == 2
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', chart)
    assert {"0", "12", "today", "29 days ago"} <= set(ticks), ticks  # 12 annotations today: the top of the y axis
    assert "annotations" in chart and "day (24-hour windows ending now)" in chart
    assert 'style="' not in text
    client.cookies.clear()


def test_the_api_keeps_the_values(client, rt):
    owner, project = _pairs(rt, "api")
    from factories import make_token

    report = client.get(
        f"/api/v1/projects/{project.id}/quality", headers={"Authorization": f"Bearer {make_token(rt, owner.id)}"}
    ).json()
    assert {row["label"] for row in report["agreement"]["per_label"]} <= {0, 1, "tie"}  # values, not words
