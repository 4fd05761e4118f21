"""``bastion demo``: a ready-to-try deployment with demo people, a workspace and projects.

Idempotent: running it again reuses what exists (people, workspace, projects,
tasks are matched by e-mail, name and external id). Passwords are generated on
first run and kept in ``demo-logins.txt`` (mode 0600) in the data directory so
later runs can print them again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..access import Actor
from ..services import imports, projects, users, workspaces
from ..services.context import Context
from ..services.runtime import Runtime
from ..sources import iter_file

DATA = Path(__file__).with_name("data")
WORKSPACE = "Demo Lab"
PEOPLE = [
    ("manager@example.com", "Morgan Manager", "owner"),
    ("ana@example.com", "Ana Annotator", "annotator"),
    ("ben@example.com", "Ben Annotator", "annotator"),
]


@dataclass
class DemoLogin:
    email: str
    password: str
    role: str


def _passwords(path: Path) -> dict[str, str]:
    if path.exists():
        return json.loads(path.read_text())
    found = {email: secrets.token_urlsafe(9) for email, _, _ in PEOPLE}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(found, fh, indent=1)
    return found


def demo_projects() -> list[dict]:
    labels = json.loads((DATA / "classification.labels.json").read_text())
    return [
        {
            "name": "Assistant request triage",
            "file": "classification.jsonl",
            "config": {
                "type": "classification",
                "field": "text",
                "labels": [
                    {"value": "coding", "description": "Writing, fixing or explaining code"},
                    {"value": "math", "description": "Calculations, proofs, statistics"},
                    {"value": "writing", "description": "Drafting or editing prose"},
                    {"value": "science", "description": "Explaining natural or social science"},
                    {"value": "advice", "description": "Personal, career, health or money advice"},
                    {"value": "unsafe", "description": "Asks for something the assistant must refuse"},
                ],
                "instructions": (
                    "Read the request a user sent to an AI assistant and choose the **one** topic that "
                    "fits best.\n\n- Press the number keys to choose, **Enter** to submit, **S** to skip.\n"
                    "- Choose *unsafe* whenever the request asks for something harmful, deceptive or "
                    "invasive, whatever its topic."
                ),
            },
            "settings": {"overlap": 2},
            "labels": labels["labels"],
        }
    ]


def setup_demo(rt: Runtime) -> list[DemoLogin]:
    ctx = Context(rt, Actor.system())
    passwords = _passwords(rt.settings.data_dir / "demo-logins.txt")
    ids: dict[str, str] = {}
    for email, name, _role in PEOPLE:
        user = users.find_user_by_email(ctx, email)
        if user is None:
            user = users.create_user(ctx, email, name=name, password=passwords[email])
        ids[email] = user.id
    ws = next((w for w in workspaces.list_workspaces(ctx) if w.name == WORKSPACE), None)
    if ws is None:
        ws = workspaces.create_workspace(ctx, WORKSPACE, owner=ids[PEOPLE[0][0]])
    for email, _name, role in PEOPLE[1:]:
        workspaces.add_member(ctx, ws.id, email, role)
    existing = {p.name: p for p in projects.list_projects(ctx, ws.id)}
    for spec in demo_projects():
        project = existing.get(spec["name"]) or projects.create_project(
            ctx, ws.id, name=spec["name"], config=spec["config"], settings=spec["settings"]
        )
        imports.import_tasks(ctx, project.id, iter_file(DATA / spec["file"], "jsonl"))
    return [DemoLogin(email, passwords[email], role) for email, _n, role in PEOPLE]
