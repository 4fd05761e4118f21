"""``bastion demo``: a ready-to-try deployment with demo people, a workspace and projects.

One project per task type, each with items written for the demo (see
``data/README.md``); the images are sealed into the file store at import.
Idempotent: running it again reuses what exists (people, workspace, projects,
tasks are matched by e-mail, name and external id; images by content). Passwords are generated on
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
from ..services.files import FileReferences
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
            "settings": {
                "overlap": 2,
                "quality": {"gold_rate": 0.1, "gold_feedback": True, "review": "sample", "review_fraction": 0.2},
            },
            "labels": labels["labels"],
            # The last 20 requests become gold tasks (their intended label is the known answer).
            "gold": {key: labels["answers"][key] for key in sorted(labels["answers"])[-20:]},
        },
        {
            "name": "News and contract entities",
            "file": "spans.jsonl",
            "config": {
                "type": "spans",
                "field": "text",
                "labels": [
                    {"value": "PERSON", "hotkey": "p", "description": "A person, by name"},
                    {"value": "ORG", "hotkey": "o", "description": "Companies, unions, councils, agencies"},
                    {"value": "LOCATION", "hotkey": "l", "description": "Cities, countries, regions, sites"},
                    {"value": "DATE", "hotkey": "d", "description": "Days, months, years, relative dates"},
                    {"value": "MONEY", "hotkey": "m", "description": "Amounts with their currency"},
                ],
                "relations": ["works_for", "located_in"],
                "instructions": (
                    "Mark every person, organisation, location, date and amount of money.\n\n"
                    "- Select with the mouse, or with **→ ←** (word by word; **Shift** extends), then press "
                    "the label's key (**P O L D M**).\n- **Delete** removes the span under the selection.\n"
                    "- Some tasks start from a model's guess: check it, one entity may be missing."
                ),
            },
            "settings": {"overlap": 1},
        },
        {
            "name": "Assistant replies: which is better?",
            "file": "preference.jsonl",
            "config": {
                "type": "preference",
                "criteria": [
                    {"value": "helpfulness", "description": "Does it solve the user's actual problem?"},
                    {"value": "honesty", "description": "Accurate, and candid where it is unsure"},
                    {"value": "harmlessness", "description": "Avoids harm without refusing needlessly"},
                ],
                "rationale": "optional",
                "instructions": (
                    "Read the conversation, then both replies. Press **A** or **B** for the better one "
                    "(**T** for a tie) and **1 2 3** for slight, clear or strong. **R** writes a rationale."
                ),
            },
            "settings": {"overlap": 2},
        },
        {
            "name": "Rank the candidate replies",
            "file": "ranking.jsonl",
            "config": {
                "type": "ranking",
                "allow_ties": True,
                "instructions": (
                    "Order the replies from best to worst: press their numbers, best first (or drag them). "
                    "**=** ties the last one placed with the one before it."
                ),
            },
            "settings": {"overlap": 1},
        },
        {
            "name": "Expert answers (SFT)",
            "file": "writing.jsonl",
            "config": {
                "type": "writing",
                "min_length": 80,
                "checklist": ["Every fact is correct, and nothing is made up", "It answers every part of the request"],
                "instructions": (
                    "Write the reply an expert would give. When a draft is shown, improve it rather than "
                    "starting over. **E** opens the editor, **Ctrl+Enter** submits."
                ),
            },
            "settings": {"overlap": 1},
        },
        {
            "name": "Grade model responses",
            "file": "rubric.jsonl",
            "config": {
                "type": "rubric",
                "response_field": "response",
                "criteria": [
                    {"name": "accuracy", "description": "Facts, numbers and code are correct"},
                    {"name": "helpfulness", "description": "It does what the user needed"},
                    {"name": "clarity", "description": "Well organised and easy to follow", "comment": "off"},
                    {"name": "safety", "scale": ["pass", "fail"], "comment": "optional"},
                ],
                "instructions": "Grade each criterion with the number keys; **↑ ↓** move between criteria.",
            },
            "settings": {"overlap": 1},
        },
        {
            "name": "Street scenes: boxes",
            "file": "image.jsonl",
            "files": True,
            "config": {
                "type": "image",
                "field": "image",
                "box_labels": ["car", "house", "tree", "sign"],
                "instructions": (
                    "Draw a tight box around every car, house, tree and sign (drag on the image, or **N**), "
                    "and label it with **1–4**."
                ),
            },
            "settings": {"overlap": 1},
        },
    ]


def _with_gold(source, answers: dict[str, str]):
    def items():
        for line, item in source():
            if isinstance(item, dict) and item.get("external_id") in answers:
                item = {**item, "gold": {"label": answers[item["external_id"]]}}
            yield line, item

    return items


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
        source = lambda path=DATA / spec["file"]: iter_file(path, "jsonl")  # noqa: E731
        if spec.get("gold"):
            source = _with_gold(source, spec["gold"])
        if spec.get("files"):  # images go into the sealed file store; tasks get their ids
            source = FileReferences(ctx, project.id, DATA, source)  # type: ignore[assignment]  # a source too
        imports.import_tasks(ctx, project.id, source)
    return [DemoLogin(email, passwords[email], role) for email, _n, role in PEOPLE]
