"""``bastion demo``: a ready-to-try deployment with demo people, workspaces and projects.

* **Demo Lab** — one project per task type, each with items written for the demo
  (see ``data/README.md``); the images are sealed into the file store at import. The
  chat project talks with a model endpoint at a local OpenAI-compatible server
  (``LOCAL_MODEL``: Ollama's address); none is needed to try the rest.
* **Two competing clients** — *Northwind Models* and *Contoso AI*, each with its
  own owner and one project, behind a declared conflict-of-interest wall. Ana
  annotates for Demo Lab and for both clients: the first client whose data she
  opens binds her, and the other is then walled off for her — its projects leave
  her home page, which names it and says why, and its pages answer 403 with the
  same explanation (dates and names). That is the wall, seen from the seat of the
  person it protects the clients from.

Per-person wording variants (leak tracing, ``leaks/variants.py``) are **off** in
every demo project: they change what annotators read ("I'm" → "I am"), and a demo
is where people compare the widget with the data they imported. The watermark
overlay and canaries are left as a project has them by default. Real projects get
variants unless their config turns them off (docs/leaks.md).

Idempotent: running it again reuses what exists (people, workspaces, projects,
tasks are matched by e-mail, name and external id; images by content). Passwords
are generated on first run and kept in ``demo-logins.txt`` (mode 0600) in the data
directory — one line per person: e-mail, password, where they work — so later runs
print them again; people added to the demo since are added to the file.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..access import Actor
from ..services import imports, model_endpoints, projects, users, workforce, workspaces
from ..services.context import Context
from ..services.files import FileReferences
from ..services.runtime import Runtime
from ..sources import iter_file

DATA = Path(__file__).with_name("data")
LOGINS_FILE = "demo-logins.txt"
WORKSPACE = "Demo Lab"
NORTHWIND, CONTOSO = "Northwind Models", "Contoso AI"
# (e-mail, name, {workspace: role}); the first owner of each workspace creates it.
PEOPLE = [
    ("manager@example.com", "Morgan Manager", {WORKSPACE: "owner"}),
    ("ana@example.com", "Ana Annotator", {WORKSPACE: "annotator", NORTHWIND: "annotator", CONTOSO: "annotator"}),
    ("ben@example.com", "Ben Annotator", {WORKSPACE: "annotator"}),
    ("nora@example.com", "Nora Northwind", {NORTHWIND: "owner"}),
    ("carl@example.com", "Carl Contoso", {CONTOSO: "owner"}),
]
# Demo projects keep the text as imported: no per-person wording variants (see the module docstring).
NO_VARIANTS = {"leak_tracing": {"variants": {"enabled": False}}}


@dataclass
class DemoLogin:
    email: str
    password: str
    role: str  # where they work: "owner · Demo Lab", "annotator · Demo Lab, Northwind Models, Contoso AI"


def _where(roles: dict[str, str]) -> str:
    by_role: dict[str, list[str]] = {}
    for workspace, role in roles.items():
        by_role.setdefault(role, []).append(workspace)
    return "; ".join(f"{role} · {', '.join(names)}" for role, names in by_role.items())


def _read_logins(path: Path) -> dict[str, str]:
    """E-mail → password from the logins file (its lines, or the JSON object earlier demos wrote)."""
    if not path.exists():
        return {}
    text = path.read_text()
    if text.lstrip().startswith("{"):
        found: dict[str, str] = json.loads(text)
        return found
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not line.startswith("#") and "@" in fields[0]:
            out[fields[0]] = fields[1]
    return out


def _passwords(path: Path) -> dict[str, str]:
    """Each demo person's password: kept from the file, made for anyone new; the file (0600) is rewritten
    only when someone was added (or it is in the old JSON form)."""
    known = _read_logins(path)
    found = {email: known.get(email) or secrets.token_urlsafe(9) for email, _, _ in PEOPLE}
    if path.exists() and found == known and not path.read_text().lstrip().startswith("{"):
        return found
    width = max(len(email) for email in found)
    lines = [
        "# Bastion demo logins: e-mail, password, where they work. Sign in at the demo's URL.",
        "# Ana annotates for both competing clients: the first one she works for walls the other off for her.",
        *(f"{email:<{width}}  {found[email]}  {_where(roles)}" for email, _name, roles in PEOPLE),
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC
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


def client_projects() -> dict[str, dict]:
    """One project for each competing client, from the demo's items (each client has its own copy)."""
    return {
        NORTHWIND: {
            "name": "Northwind: which reply is better?",
            "file": "preference.jsonl",
            "first": 12,
            "config": {
                "type": "preference",
                "rationale": "optional",
                "instructions": (
                    "Northwind's model drafted both replies. Press **A** or **B** for the better one "
                    "(**T** for a tie) and **1 2 3** for slight, clear or strong."
                ),
            },
            "settings": {"overlap": 1},
        },
        CONTOSO: {
            "name": "Contoso: request triage",
            "file": "classification.jsonl",
            "first": 20,
            "config": {
                "type": "classification",
                "field": "text",
                "labels": ["coding", "math", "writing", "science", "advice", "unsafe"],
                "instructions": "Choose the **one** topic that fits Contoso's request best (number keys, **Enter**).",
            },
            "settings": {"overlap": 1},
        },
    }


def _first(source, n: int):
    """The first ``n`` items of a source."""

    def items():
        found = source()
        try:
            for line, item in found:
                if line > n:
                    return
                yield line, item
        finally:
            found.close()  # the file is closed now, not when the generator is collected

    return items


# The chat project's model: a local OpenAI-compatible server (Ollama's address); without one, replies say so.
LOCAL_MODEL = {
    "name": "Local model",
    "base_url": "http://127.0.0.1:11434/v1",
    "default_model": "llama3.2",
    "allowed_hosts": ["127.0.0.1:11434"],
}


def chat_project(endpoint_id: str) -> dict:
    """The demo's chat project, talking with the workspace's local model endpoint."""
    return {
        "name": "Chat with a model",
        "file": "chat.jsonl",
        "config": {
            "type": "chat",
            "models": [{"endpoint": endpoint_id, "label": "Local"}],
            "max_turns": 6,
            "actions": ["rate", "rewrite"],
            "rating": {"min": 1, "max": 5},
            "params": {"max_tokens": 400},
            "instructions": (
                "Talk with the model as a demanding expert would: **M** writes, **Ctrl+Enter** sends. Rate each "
                "reply and rewrite (**R**) the ones that fall short."
            ),
        },
        "settings": {"overlap": 1},
    }


def _local_model(ctx: Context, workspace_id: str) -> str:
    for endpoint in model_endpoints.list_endpoints(ctx, workspace_id):
        if endpoint["name"] == LOCAL_MODEL["name"]:
            return endpoint["id"]
    return model_endpoints.create_endpoint(ctx, workspace_id, **LOCAL_MODEL)["id"]


def _workspace(ctx: Context, name: str, owner_id: str, existing: dict[str, str]) -> str:
    if name in existing:
        return existing[name]
    return workspaces.create_workspace(ctx, name, owner=owner_id).id


def _project(ctx: Context, workspace_id: str, spec: dict, existing: dict) -> str:
    config = {**spec["config"], **NO_VARIANTS}
    project = existing.get(spec["name"]) or projects.create_project(
        ctx, workspace_id, name=spec["name"], config=config, settings=spec["settings"]
    )
    source = lambda path=DATA / spec["file"]: iter_file(path, "jsonl")  # noqa: E731
    if spec.get("first"):
        source = _first(source, spec["first"])
    if spec.get("gold"):
        source = _with_gold(source, spec["gold"])
    if spec.get("files"):  # images go into the sealed file store; tasks get their ids
        source = FileReferences(ctx, project.id, DATA, source)  # type: ignore[assignment]  # a source too
    imports.import_tasks(ctx, project.id, source)
    return project.id


def setup_demo(rt: Runtime) -> list[DemoLogin]:
    ctx = Context(rt, Actor.system())
    passwords = _passwords(rt.settings.data_dir / LOGINS_FILE)
    ids: dict[str, str] = {}
    for email, name, _roles in PEOPLE:
        user = users.find_user_by_email(ctx, email)
        if user is None:
            user = users.create_user(ctx, email, name=name, password=passwords[email])
        ids[email] = user.id
    existing = {w.name: w.id for w in workspaces.list_workspaces(ctx)}
    spaces: dict[str, str] = {}
    for email, _name, roles in PEOPLE:
        for workspace, role in roles.items():
            if workspace not in spaces and role == "owner":
                spaces[workspace] = _workspace(ctx, workspace, ids[email], existing)
    # Members first, the wall after: adding someone tied to a competitor is a two-person operation.
    for email, _name, roles in PEOPLE:
        for workspace, role in roles.items():
            workspaces.add_member(ctx, spaces[workspace], email, role)
    workforce.add_conflict(ctx, spaces[NORTHWIND], spaces[CONTOSO])  # again: already declared, nothing changes
    lab = {p.name: p for p in projects.list_projects(ctx, spaces[WORKSPACE])}
    for spec in [*demo_projects(), chat_project(_local_model(ctx, spaces[WORKSPACE]))]:
        _project(ctx, spaces[WORKSPACE], spec, lab)
    for client, spec in client_projects().items():
        _project(ctx, spaces[client], spec, {p.name: p for p in projects.list_projects(ctx, spaces[client])})
    return [DemoLogin(email, passwords[email], _where(roles)) for email, _n, roles in PEOPLE]
