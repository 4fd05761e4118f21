"""The chat task type, live: turns streamed from two models (tests/model_server.py), the sealed draft,
the refusals (no lease, another workspace's endpoint, a walled person), the validator and the exports."""

from __future__ import annotations

import json

import orjson
import pytest
from sqlalchemy import select

from bastion.access import WallDenied
from bastion.domain.errors import Conflict, InvalidAnswer, InvalidConfig, InvalidInput, NotFound, PermissionDenied
from bastion.services import chat, exports, imports, keys, model_endpoints, projects, queue, workforce, workspaces
from bastion.services.exports import ExportRequest
from bastion.storage import schema
from bastion.tasktypes import installed
from factories import as_user, make_project, make_side, make_user, operator_tx, system
from model_server import model_server, reply_for, served  # noqa: F401  (fixtures)
from trl_formats import check_trl_conversational

OPENING = "Which is faster for CPU-bound Python: threads or processes?"


def endpoint(rt, side, served, name: str, model: str) -> str:
    return model_endpoints.create_endpoint(
        side.ctx(rt, "owner"),
        side.workspace_id,
        name=name,
        base_url=served.url(),
        default_model=model,
        allowed_hosts=[f"127.0.0.1:{served.port}"],
    )["id"]


def chat_config(a: str, b: str | None = None, **extra) -> dict:
    models = [{"endpoint": a, "label": "Lab"}] + (
        [{"endpoint": b, "model": "vendor-x", "label": "Vendor"}] if b else []
    )
    config = {"type": "chat", "models": models, "system_prompt": "Be brief.", "max_turns": 3, "criteria": ["correct"]}
    if b is None:
        config["actions"] = ["rate", "rewrite"]
        config.pop("criteria")
    config.update(extra)
    return config


def chat_project(rt, served, tag: str, *, two: bool = True, n_tasks: int = 1):
    side = make_side(rt, tag, n_tasks=1)
    a = endpoint(rt, side, served, "lab", "lab-7b")
    b = endpoint(rt, side, served, "vendor", "vendor-default") if two else None
    project = make_project(rt, side.workspace_id, name=f"Chat {tag}", config=chat_config(a, b))
    imports.import_tasks(
        system(rt),
        project.id,
        [(i, {"data": {"prompt": OPENING}, "external_id": f"c{i}"}) for i in range(1, n_tasks + 1)],
    )
    return side, project, a, b


def events(turn) -> list[dict]:
    return [orjson.loads(line) for line in b"".join(turn.events()).splitlines()]


def test_a_turn_streams_both_replies_and_is_kept_sealed(rt, served):
    side, project, a, b = chat_project(rt, served, "live")
    me = side.ctx(rt, "annotator")
    task = queue.next_task(me, project.id)
    assert chat.load_chat(me, task["id"]) == {
        "task_id": task["id"],
        "version": 0,
        "turns": [],
        "max_turns": 3,
        "opening": OPENING,
    }
    got = events(chat.open_turn(me, task["id"], OPENING, version=0))
    assert got[0] == {"event": "start", "turn": 0, "replies": 2}
    sent = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": OPENING}]
    for slot, model in ((0, "lab-7b"), (1, "vendor-x")):
        pieces = "".join(e["text"] for e in got if e["event"] == "delta" and e["reply"] == slot)
        assert pieces == reply_for(model, sent)
    last = got[-1]
    assert last["event"] == "turn" and last["version"] == 1
    replies = last["data"]["replies"]
    assert [r["endpoint"] for r in replies] == [a, b] and [r["model"] for r in replies] == ["lab-7b", "vendor-x"]
    assert replies[0]["usage"]["prompt_tokens"] == 11 and replies[0]["finish_reason"] == "stop"
    # sealed at rest: the row holds no reply text; a reload continues from it
    with operator_tx(rt, write=False) as tx:
        body = tx.execute(select(schema.chat_drafts.c.body)).scalar_one()
    assert b"echo" not in body and OPENING.encode() not in body
    assert chat.load_chat(me, task["id"])["turns"][0]["replies"] == replies

    # the next turn carries the rewrite of the reply the expert preferred
    judged = [
        {
            "choice": {"preferred": 1, "strength": "clearly", "criteria": ["correct"]},
            "ratings": [3, 6],
            "rewrite": {"reply": 1, "content": "Processes: the GIL runs one thread at a time."},
        }
    ]
    events(chat.open_turn(me, task["id"], "Why?", judgements=judged, version=1))
    last_request = served.requests[-1]["body"]["messages"]
    assert last_request[-2:] == [
        {"role": "assistant", "content": "Processes: the GIL runs one thread at a time."},
        {"role": "user", "content": "Why?"},
    ]
    state = chat.load_chat(me, task["id"])
    assert state["version"] == 2 and state["turns"][0]["carried"] == 1
    assert state["turns"][0]["rewrite"]["content"].startswith("Processes")
    # a stale window is refused; editing turn 2 regenerates from there and drops nothing before it
    with pytest.raises(Conflict, match="another window"):
        chat.open_turn(me, task["id"], "Again?", version=1)
    events(chat.open_turn(me, task["id"], "Why exactly?", at=1, version=2))
    state = chat.load_chat(me, task["id"])
    assert [t["user"] for t in state["turns"]] == [OPENING, "Why exactly?"]
    with pytest.raises(InvalidInput, match="at: a turn index from 0 to 2"):
        chat.open_turn(me, task["id"], "x", at=5)
    # the server's replies cannot be changed by a post: judgements only
    with pytest.raises(InvalidAnswer, match=r"judgements\[0\].replies: unknown key"):
        chat.save_judgements(me, task["id"], [{"replies": []}], version=3)
    log = [e for e in _log(rt, side) if e["action"] == "model.called"]
    assert len(log) == 6 and {e["details"]["purpose"] for e in log} == {"chat"}
    # re-encrypting the project re-seals the draft too (keys_store.SEALED_COLUMNS): the chat goes on
    before = chat.load_chat(me, task["id"])
    keys.start_new_data_keys(side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "keys.rotate"))
    done = keys.reencrypt_project(
        side.ctx(rt, "owner"), project.id, approval=side.approval(rt, "keys.reencrypt", {"project": project.id})
    )
    assert done["tasks"] >= 1 and done["retired_keys"]  # the old key is gone
    rt.keyring.forget_cache()
    assert chat.load_chat(me, task["id"]) == before


def _log(rt, side):
    from bastion.services import audit

    return audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"]


def test_refusals_before_any_model_is_called(rt, served):
    side, project, a, b = chat_project(rt, served, "refuse", n_tasks=2)
    holder = side.ctx(rt, "annotator")
    task = queue.next_task(holder, project.id)
    served.requests.clear()
    # no lease: another member of the workspace, and the holder on a task they do not hold
    with pytest.raises(PermissionDenied, match="do not hold this task"):
        chat.open_turn(side.ctx(rt, "manager"), task["id"], "hello")
    other = next(t for t in _task_ids(rt, project.id) if t != task["id"])
    with pytest.raises(PermissionDenied, match="do not hold this task"):
        chat.open_turn(holder, other, "hello")
    # another workspace's task does not exist for an outsider
    stranger = make_side(rt, "refuse-b", n_tasks=1)
    with pytest.raises(NotFound):
        chat.open_turn(stranger.ctx(rt, "annotator"), task["id"], "hello")
    with pytest.raises(InvalidInput, match="content: write the message"):
        chat.open_turn(holder, task["id"], "   ")
    # an endpoint removed after the project was made: not found, nothing sent
    model_endpoints.delete_endpoint(side.ctx(rt, "owner"), b)
    with pytest.raises(NotFound, match="model endpoint"):
        chat.open_turn(holder, task["id"], "hello")
    assert served.requests == []


def _task_ids(rt, project_id):
    with operator_tx(rt, write=False) as tx:
        return list(tx.execute(select(schema.tasks.c.id).where(schema.tasks.c.project_id == project_id)).scalars())


def test_a_walled_person_cannot_chat_on_the_competitors_task(rt, served):
    side, project, a, b = chat_project(rt, served, "wall-b")
    other = make_side(rt, "wall-a", n_tasks=1)
    person = make_user(rt, "both@example.com")
    workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    workspaces.add_member(system(rt), other.workspace_id, person.id, "annotator")
    assert queue.next_task(as_user(rt, person.id), other.project_id) is not None  # bound to A
    workforce.add_conflict(other.ctx(rt, "owner"), other.workspace_id, side.workspace_id)
    (task_id,) = _task_ids(rt, project.id)
    served.requests.clear()
    with pytest.raises(WallDenied):
        chat.open_turn(as_user(rt, person.id), task_id, "hello")
    with pytest.raises(WallDenied):
        chat.load_chat(as_user(rt, person.id), task_id)
    assert served.requests == []


def test_config_endpoints_must_be_the_projects_own_workspace(rt, served):
    side = make_side(rt, "cfg-a", n_tasks=1)
    theirs = make_side(rt, "cfg-b", n_tasks=1)
    mine = endpoint(rt, side, served, "lab", "lab-7b")
    foreign = endpoint(rt, theirs, served, "lab", "lab-7b")
    with pytest.raises(InvalidConfig, match=r"models\[1\].endpoint: .* is not a model endpoint of this workspace"):
        projects.create_project(side.ctx(rt, "owner"), side.workspace_id, name="c", config=chat_config(mine, foreign))
    with pytest.raises(InvalidConfig, match=r"models\[0\].endpoint"):
        projects.create_project(side.ctx(rt, "owner"), side.workspace_id, name="c", config=chat_config("mep_00ff"))
    made = projects.create_project(side.ctx(rt, "owner"), side.workspace_id, name="c", config=chat_config(mine))
    with pytest.raises(InvalidConfig, match=r"models\[1\].endpoint"):
        projects.update_project(side.ctx(rt, "owner"), made.id, config=chat_config(mine, foreign))
    # shape only in the schema: an id that is no endpoint id, choose with one model
    tt = installed().get("chat")
    with pytest.raises(InvalidConfig, match=r"models\[0\].endpoint"):
        tt.parse_config(chat_config("not-an-id"))
    with pytest.raises(InvalidConfig, match="'choose' needs two models"):
        tt.parse_config(chat_config(mine, actions=["choose"]))


def _turn(a: str, b: str, user: str = "hi") -> dict:
    return {
        "user": user,
        "replies": [
            {"content": "one", "model": "lab-7b", "endpoint": a, "usage": {"prompt_tokens": 2, "completion_tokens": 1}},
            {"content": "two", "model": "vendor-x", "endpoint": b},
        ],
    }


def test_the_validator_names_what_is_wrong():
    tt = installed().get("chat")
    a, b = "mep_0a", "mep_0b"
    config = tt.parse_config(chat_config(a, b))
    ok = {"turns": [{**_turn(a, b), "choice": {"preferred": 0, "strength": "much", "criteria": ["correct"]}}]}
    out = tt.validate_result(config, {"prompt": OPENING}, ok)
    assert out["turns"][0]["carried"] == 0 and out["system"] == "Be brief."
    assert out["models"][1] == {"endpoint": b, "model": "vendor-x", "label": "Vendor"}
    cases = [
        ({"turns": []}, "result.turns: at least one turn"),
        ({"turns": [_turn(a, b)] * 4}, "4 turns; this project allows 3"),
        ({"turns": [{**_turn(a, b), "choice": {"preferred": 2, "strength": "much"}}]}, r"choice.preferred: a reply"),
        ({"turns": [{**_turn(a, b), "choice": {"preferred": 0, "strength": "very"}}]}, "choice.strength: one of"),
        ({"turns": [{**_turn(a, b), "choice": {"preferred": "tie", "strength": "much"}}]}, "a tie has no strength"),
        ({"turns": [{**_turn(a, b), "choice": {"preferred": 0, "strength": "much", "criteria": ["fun"]}}]}, "criteria"),
        ({"turns": [{**_turn(a, b), "ratings": [1, 9]}]}, r"ratings\[1\]: a whole number from 1 to 7"),
        ({"turns": [{**_turn(a, b), "ratings": [1]}]}, "one rating .or null. per reply"),
        ({"turns": [{**_turn(a, b), "rewrite": {"reply": 3, "content": "x"}}]}, "rewrite.reply"),
        ({"turns": [{**_turn(a, b), "rewrite": {"reply": 0, "content": " "}}]}, "rewrite.content: empty"),
        ({"turns": [{"user": "hi", "replies": [_turn(a, b)["replies"][0]]}]}, "one reply per model, 2 in all"),
        ({"turns": [{"user": "hi", "replies": _turn(b, a)["replies"]}]}, r"replies\[0\].endpoint: must be"),
        ({"turns": [{**_turn(a, b), "user": ""}]}, r"turns\[0\].user: empty"),
        ({"turns": [_turn(a, b)], "extra": 1}, "result.extra: unknown key"),
    ]
    for bad, words in cases:
        with pytest.raises(InvalidAnswer, match=words):
            tt.validate_result(config, {}, bad)
    single = tt.parse_config(chat_config(a))
    with pytest.raises(InvalidAnswer, match="does not ask to choose"):
        tt.validate_result(
            single,
            {},
            {
                "turns": [
                    {
                        "user": "x",
                        "replies": [_turn(a, b)["replies"][0]],
                        "choice": {"preferred": 0, "strength": "much"},
                    }
                ]
            },
        )


def test_exports_sft_dpo_and_lossless_load_with_datasets(rt, served, tmp_path):
    datasets = pytest.importorskip("datasets")
    side, project, a, b = chat_project(rt, served, "exp")
    me = side.ctx(rt, "annotator")
    task = queue.next_task(me, project.id)
    first = events(chat.open_turn(me, task["id"], OPENING))[-1]["data"]
    judged = [
        {
            "choice": {"preferred": 1, "strength": "much", "criteria": ["correct"]},
            "rewrite": {"reply": 1, "content": "Processes."},
        }
    ]
    second = events(chat.open_turn(me, task["id"], "Why?", judgements=judged))[-1]["data"]
    result = {"turns": [{**first, **judged[0]}, {**second, "choice": {"preferred": "tie"}, "ratings": [5, None]}]}
    from bastion.services import annotations

    forged = json.loads(json.dumps(result))
    forged["turns"][0]["replies"][0]["content"] = "Threads, always."
    with pytest.raises(InvalidAnswer, match=r"result.turns\[0\].replies: not this chat's"):
        annotations.submit_annotation(me, task["id"], forged)
    with pytest.raises(InvalidAnswer, match="1 turns, but this chat has 2"):
        annotations.submit_annotation(me, task["id"], {"turns": result["turns"][:1]})
    annotations.submit_annotation(me, task["id"], result)

    def rows(fmt, **options):
        body = b"".join(
            exports.start_export(system(rt), project.id, request=ExportRequest(fmt=fmt, **options)).chunks()
        )
        return [orjson.loads(x) for x in body.splitlines()]

    (sft,) = rows("sft")
    assert sft == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": OPENING},
            {"role": "assistant", "content": "Processes."},
            {"role": "user", "content": "Why?"},
            {"role": "assistant", "content": second["replies"][0]["content"]},
        ]
    }
    (pc,) = rows("sft", sft_form="prompt-completion")
    assert pc == {"prompt": sft["messages"][:-1], "completion": sft["messages"][-1:]}
    dpo = rows("dpo")
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": OPENING}]
    assert dpo == [
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": "Processes."}],
            "rejected": [{"role": "assistant", "content": first["replies"][0]["content"]}],
        },
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": "Processes."}],
            "rejected": [{"role": "assistant", "content": first["replies"][1]["content"]}],
        },
    ]
    lossless = rows("jsonl", per="annotation")
    kept = lossless[0]["annotation"]["result"]
    assert kept["turns"][0]["replies"][1]["content"] == first["replies"][1]["content"]
    assert kept["turns"][0]["rewrite"] == {"reply": 1, "content": "Processes."}
    assert kept["turns"][1]["ratings"] == [5, None] and kept["turns"][0]["replies"][0]["usage"]["prompt_tokens"]
    for name, data in (("sft", [sft]), ("dpo", dpo), ("full", lossless)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in data))
        loaded = datasets.load_dataset("json", data_files=str(path), split="train")
        assert loaded.num_rows == len(data)
    check_trl_conversational(sft, dpo)
