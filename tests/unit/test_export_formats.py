"""Export formats over task records, read back by the libraries their users load them with.

The records are built here (no database), made into rows by the task types and
encoded by the built-in formats: ``datasets`` reads the JSON Lines and
Parquet files, ``pycocotools`` the COCO file, ``seqeval`` decodes the CoNLL
tags back into entities; SFT/DPO rows pass a check written from TRL's
documented dataset formats (TRL itself needs torch, which the test extra does
not install).
"""

from __future__ import annotations

import json

import orjson
import pytest

from bastion.domain.errors import InvalidInput
from bastion.exporting import Encoding
from bastion.exporting import installed as installed_formats
from bastion.exporting.jsonrows import encode_jsonl
from bastion.exporting.parquet import write_parquet
from bastion.services.exports import parse_split
from bastion.tasktypes import installed
from bastion.tasktypes._export import ExportOptions
from bastion.tasktypes.templates import TEMPLATES

ROLES = {"system", "user", "assistant"}
EXTRA_COLUMNS = {"split", "task_id", "annotation_id", "external_id", "tie"}


# -- TRL's dataset formats, as its documentation describes them ----------------------


def _messages(value, *, last=None, only=None) -> bool:
    if not isinstance(value, list) or not value:
        return False
    if not all(
        isinstance(m, dict) and set(m) >= {"role", "content"} and m["role"] in ROLES and isinstance(m["content"], str)
        for m in value
    ):
        return False
    if only and any(m["role"] != only for m in value):
        return False
    return last is None or value[-1]["role"] == last


def trl_kind(row: dict) -> tuple[str, str]:
    """(format, type) of a TRL example, or AssertionError saying why it is none."""
    keys = set(row) - EXTRA_COLUMNS
    if keys == {"messages"}:
        assert _messages(row["messages"], last="assistant"), row
        return "conversational", "language modeling"
    if keys == {"prompt", "completion"}:
        if isinstance(row["prompt"], str):
            assert isinstance(row["completion"], str) and row["completion"], row
            return "standard", "prompt-completion"
        assert _messages(row["prompt"], last="user") and _messages(row["completion"], only="assistant"), row
        return "conversational", "prompt-completion"
    if keys == {"prompt", "chosen", "rejected"}:
        if isinstance(row["prompt"], str):
            assert isinstance(row["chosen"], str) and isinstance(row["rejected"], str), row
            return "standard", "preference"
        assert _messages(row["prompt"], last="user"), row
        assert _messages(row["chosen"], only="assistant") and _messages(row["rejected"], only="assistant"), row
        return "conversational", "preference"
    raise AssertionError(f"not a TRL example: {sorted(keys)}")


# -- records ---------------------------------------------------------------------


def ann(i: int, result: dict) -> dict:
    return {
        "id": f"ann_{i}",
        "user_id": "usr_1",
        "task_id": "t",
        "project_id": "p",
        "result": result,
        "lead_time_ms": 1000,
        "created_at": 1,
    }


def record(i: int, data: dict, annotations: list[dict]) -> dict:
    return {
        "id": f"tsk_{i:04d}",
        "project_id": "prj_1",
        "data": data,
        "predictions": [],
        "external_id": f"x-{i}",
        "meta": None,
        "priority": 0,
        "annotation_count": len(annotations),
        "done": True,
        "created_at": 1,
        "annotations": annotations,
    }


def rows_of(type_name: str, kind: str, records: list[dict], options: ExportOptions | None = None) -> list[dict]:
    tt = installed().get(type_name)
    config = tt.parse_config(TEMPLATES[type_name])
    options = options or ExportOptions()
    make = tt.export_rows(kind)
    return [row for r in records for a in r["annotations"] for row in make(config, r, a, options)]


def document(format_name: str, type_name: str, records: list[dict], options: ExportOptions | None = None) -> bytes:
    """A whole file of a format, its rows made by the type as the export pipeline asks for them."""
    fmt = installed_formats().get(format_name)
    tt = installed().get(type_name)
    config = tt.parse_config(TEMPLATES[type_name])
    options = options or ExportOptions()
    (kind,) = fmt.kinds_for(tt)
    make = tt.export_rows(kind)
    if fmt.per_task:
        rows = (row for r in records for row in make(config, r, None, options))
    else:
        rows = (row for r in records for a in r["annotations"] for row in make(config, r, a, options))
    head = lambda: list(make(config, None, None, options))  # noqa: E731
    return b"".join(fmt.encode(rows, Encoding(kind, type_name, config, options, head=head)))


CONVERSATION = [
    {"role": "user", "content": "Keep order when removing duplicates?"},
    {"role": "assistant", "content": "Which language?"},
    {"role": "user", "content": "Python, please."},
]
PREFERENCE = [
    record(
        1,
        {"conversation": CONVERSATION, "responses": ["list(dict.fromkeys(xs))", "list(set(xs))"]},
        [
            ann(1, {"preferred": 0, "strength": "strong", "criteria": {}}),
            ann(2, {"preferred": 1, "strength": "slight"}),
        ],
    ),
    record(2, {"prompt": "Capital of Australia?", "responses": ["Sydney", "Canberra"]}, [ann(3, {"preferred": "tie"})]),
]


def test_dpo_rows_from_preferences_pass_trls_format_check():
    rows = rows_of("preference", "dpo", PREFERENCE[:1])
    assert [trl_kind(r) for r in rows] == [("conversational", "preference")] * 2
    assert rows[0]["chosen"] == [{"role": "assistant", "content": "list(dict.fromkeys(xs))"}]
    assert rows[0]["prompt"] == CONVERSATION
    assert rows[1]["chosen"][0]["content"] == "list(set(xs))"


def test_dpo_filters_strength_and_ties():
    assert len(rows_of("preference", "dpo", PREFERENCE)) == 2  # the tie makes no pair
    strong = rows_of("preference", "dpo", PREFERENCE, ExportOptions(min_strength="clear"))
    assert [r["chosen"] for r in strong] == [[{"role": "assistant", "content": "list(dict.fromkeys(xs))"}]]
    with_ties = rows_of("preference", "dpo", PREFERENCE, ExportOptions(include_ties=True))
    assert [r["tie"] for r in with_ties] == [False, False, True]
    assert trl_kind(with_ties[2]) == ("standard", "preference")  # a prompt string gives strings
    assert with_ties[2]["prompt"] == "Capital of Australia?"


def test_standard_form_refuses_multi_turn_prompts():
    with pytest.raises(InvalidInput, match="3 turns has no standard"):
        rows_of("preference", "dpo", PREFERENCE[:1], ExportOptions(chat="standard"))


def test_a_ranking_expands_to_every_ordered_pair():
    r = record(
        3,
        {"prompt": "Name a puppy", "responses": ["Rex", "Maple", "Dog", "Biscuit"]},
        [ann(4, {"ranks": [3, 1, 4, 2]})],
    )
    rows = rows_of("ranking", "dpo", [r])
    assert len(rows) == 6
    assert {(row["chosen"], row["rejected"]) for row in rows} == {
        ("Maple", "Biscuit"),
        ("Maple", "Rex"),
        ("Maple", "Dog"),
        ("Biscuit", "Rex"),
        ("Biscuit", "Dog"),
        ("Rex", "Dog"),
    }
    assert all(trl_kind(row) == ("standard", "preference") for row in rows)
    tied = record(4, {"prompt": "x", "responses": ["a", "b", "c"]}, [ann(5, {"ranks": [1, 1, 2]})])
    assert len(rows_of("ranking", "dpo", [tied])) == 2
    assert len(rows_of("ranking", "dpo", [tied], ExportOptions(include_ties=True))) == 3


def test_sft_rows_in_both_trl_forms():
    r = record(5, {"conversation": CONVERSATION}, [ann(6, {"text": "Use `dict.fromkeys`."})])
    (messages,) = rows_of("writing", "sft", [r])
    assert trl_kind(messages) == ("conversational", "language modeling")
    assert messages["messages"][-1] == {"role": "assistant", "content": "Use `dict.fromkeys`."}
    (pc,) = rows_of("writing", "sft", [r], ExportOptions(sft_form="prompt-completion"))
    assert trl_kind(pc) == ("conversational", "prompt-completion")
    plain = record(6, {"prompt": "Say hi"}, [ann(7, {"text": "Hi!"})])
    (std,) = rows_of("writing", "sft", [plain], ExportOptions(sft_form="prompt-completion"))
    assert std == {"prompt": "Say hi", "completion": "Hi!"} and trl_kind(std) == ("standard", "prompt-completion")
    (ids,) = rows_of("writing", "sft", [plain], ExportOptions(with_ids=True))
    assert ids["task_id"] == "tsk_0006" and ids["annotation_id"] == "ann_7" and ids["external_id"] == "x-6"


# -- files the libraries load --------------------------------------------------------


def _write(path, chunks) -> None:
    with open(path, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)


def test_jsonl_and_parquet_rows_load_with_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = rows_of(
        "preference", "dpo", PREFERENCE, ExportOptions(include_ties=True, with_ids=True, chat="conversational")
    )
    _write(tmp_path / "dpo.jsonl", encode_jsonl(iter(rows)))
    _write(tmp_path / "dpo.parquet", write_parquet(iter(rows), lossless=False))
    for kind, name in (("json", "dpo.jsonl"), ("parquet", "dpo.parquet")):
        ds = datasets.load_dataset(
            kind, data_files=str(tmp_path / name), split="train", cache_dir=str(tmp_path / "cache")
        )
        loaded = ds.to_list()
        assert len(loaded) == 3
        # datasets fills a struct column's missing keys: compare the columns TRL reads
        for got, want in zip(loaded, rows):
            assert {k: got[k] for k in ("chosen", "rejected", "tie", "task_id")} == {
                k: want[k] for k in ("chosen", "rejected", "tie", "task_id")
            }
        assert [trl_kind(r) for r in loaded] == [("conversational", "preference")] * 3


def test_lossless_parquet_keeps_everything(tmp_path):
    datasets = pytest.importorskip("datasets")
    records = [dict(r, split="train") for r in PREFERENCE] + [
        dict(record(9, {"prompt": "p", "responses": ["a", "b"]}, []), split="validation")
    ]
    many = records * 2500  # two row groups of at most 5,000 rows
    _write(tmp_path / "all.parquet", write_parquet(iter(many), lossless=True))
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "all.parquet").num_row_groups == 2
    ds = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "all.parquet"), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert len(ds) == 7500
    first = ds[0]
    assert json.loads(first["data"]) == PREFERENCE[0]["data"]
    assert [json.loads(a["result"]) for a in first["annotations"]] == [
        a["result"] for a in PREFERENCE[0]["annotations"]
    ]
    assert ds[2]["annotations"] == [] and ds[2]["split"] == "validation"


def test_parquet_refuses_rows_that_change_shape():
    rows = [
        {
            "prompt": [{"role": "user", "content": "x"}],
            "chosen": [{"role": "assistant", "content": "a"}],
            "rejected": [{"role": "assistant", "content": "b"}],
        }
    ] * 5000 + [{"prompt": "x", "chosen": "a", "rejected": "b"}]
    with pytest.raises(InvalidInput, match="--chat conversational"):
        b"".join(write_parquet(iter(rows), lossless=False))


def test_coco_loads_with_pycocotools(tmp_path):
    coco_mod = pytest.importorskip("pycocotools.coco")
    ref = "fil_" + "a" * 32
    records = [
        dict(
            record(
                1,
                {"image": ref, "width": 320, "height": 240},
                [
                    ann(
                        1,
                        {
                            "boxes": [
                                {"x": 100, "y": 152, "w": 120, "h": 59, "label": "car"},
                                {"x": 10, "y": 20, "w": 30, "h": 40, "label": "tree"},
                            ],
                            "label": "day",
                        },
                    )
                ],
            ),
            file_extension=".png",
        ),
        dict(
            record(2, {"image": "fil_" + "b" * 32}, [ann(2, {"boxes": [], "label": "night"})]),
            file_extension=".jpg",
            file_width=640,
            file_height=480,
        ),
    ]
    (tmp_path / "coco.json").write_bytes(document("coco", "image", records))
    coco = coco_mod.COCO(str(tmp_path / "coco.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["car", "house", "tree", "sign"]
    img = coco.loadImgs([1])[0]
    assert (img["file_name"], img["width"], img["height"]) == (f"{ref}.png", 320, 240)
    assert coco.loadImgs([2])[0]["width"] == 640
    boxes = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert [(b["bbox"], b["category_id"], b["area"]) for b in boxes] == [
        ([100, 152, 120, 59], 1, 7080),
        ([10, 20, 30, 40], 3, 1200),
    ]
    assert coco.getAnnIds(imgIds=[2]) == []


def read_conll(text: str) -> list[list[tuple[str, str]]]:
    """CoNLL-2003 as its readers take it: documents of `token POS chunk NER` lines."""
    docs: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if line.startswith("-DOCSTART-"):
            docs.append([])
        elif line.strip():
            parts = line.split(" ")
            assert len(parts) == 4, line
            docs[-1].append((parts[0], parts[3]))
    return docs


def test_conll_decodes_back_to_the_spans_with_seqeval():
    seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling")
    text = "Chief executive Ingrid Solberg said Halvorsen Maritime will close its Bergen yard in 2026."
    spans = [
        {"start": 16, "end": 30, "label": "PERSON"},
        {"start": 36, "end": 54, "label": "ORG"},
        {"start": 70, "end": 76, "label": "LOCATION"},
        {"start": 85, "end": 89, "label": "DATE"},
    ]
    out = document("conll", "spans", [record(1, {"text": text}, [ann(1, {"spans": spans})])]).decode()
    (doc,) = read_conll(out)
    tokens = [t for t, _ in doc]
    assert tokens == text.split()
    entities = seqeval.get_entities([tag for _, tag in doc])
    assert [(label, " ".join(tokens[a : b + 1])) for label, a, b in entities] == [
        ("PERSON", "Ingrid Solberg"),
        ("ORG", "Halvorsen Maritime"),
        ("LOCATION", "Bergen"),
        ("DATE", "2026."),
    ]
    rows = rows_of("spans", "spacy", [record(1, {"text": text}, [ann(1, {"spans": spans})])])
    assert rows == [
        {"text": text, "entities": [[16, 30, "PERSON"], [36, 54, "ORG"], [70, 76, "LOCATION"], [85, 89, "DATE"]]}
    ]


def test_splits_are_per_task_stable_and_near_their_fractions():
    split = parse_split("validation=0.1,test=0.2", seed=7)
    parts = [split.part_of(f"tsk_{i}") for i in range(5000)]
    assert parts == [split.part_of(f"tsk_{i}") for i in range(5000)]
    assert 0.08 < parts.count("validation") / 5000 < 0.12
    assert 0.18 < parts.count("test") / 5000 < 0.22
    assert parts != [parse_split("validation=0.1,test=0.2", seed=8).part_of(f"tsk_{i}") for i in range(5000)]
    for bad, message in [
        ("validation", "NAME=FRACTION"),
        ("validation=1.5", "between 0 and 1"),
        ("a=0.6,b=0.5", "add up to 1"),
        ("train=0.1", "named twice"),
        ("v=x", "not a fraction"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            parse_split(bad)


def test_jsonl_encoder_is_line_per_row():
    rows = [{"a": i} for i in range(1234)]
    assert [orjson.loads(line) for line in b"".join(encode_jsonl(iter(rows))).splitlines()] == rows


def test_document_encoders_take_rows_from_any_type_and_refuse_what_would_break_the_file():
    """COCO and CoNLL encode rows a plugin type could make as well: extra keys ride along, bad ones are refused."""
    from bastion.exporting.coco import encode_coco
    from bastion.exporting.conll import encode_conll

    head = lambda: [{"name": "cell"}, {"name": "nucleus", "supercategory": "cell"}]  # noqa: E731
    rows = [
        {
            "file_name": "a.png",
            "width": 10,
            "height": 10,
            "stain": "H&E",
            "boxes": [{"label": "nucleus", "bbox": [1, 2, 3, 4], "area": 12, "confidence": 0.5}],
        }
    ]
    doc = orjson.loads(b"".join(encode_coco(iter(rows), Encoding("coco", "cells", head=head))))
    assert doc["images"] == [{"id": 1, "file_name": "a.png", "width": 10, "height": 10, "stain": "H&E"}]
    assert doc["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0, "confidence": 0.5}
    ]
    assert doc["categories"][1] == {"id": 2, "name": "nucleus", "supercategory": "cell"}
    with pytest.raises(InvalidInput, match="coco: box label 'mitochondrion' is not one of the categories"):
        b"".join(
            encode_coco(
                iter([{"boxes": [{"label": "mitochondrion", "bbox": [0, 0, 1, 1], "area": 1}]}]),
                Encoding("coco", "cells", head=head),
            )
        )

    conll = Encoding("conll", "tokens")
    ok = b"".join(encode_conll(iter([{"tokens": ["New", "York"], "tags": ["B-LOC", "I-LOC"]}]), conll))
    assert ok == b"-DOCSTART- -X- -X- O\n\nNew _ _ B-LOC\nYork _ _ I-LOC\n\n"
    for tokens, tags, message in [
        (["New York"], ["B-LOC"], "holds whitespace"),
        ([""], ["O"], "is empty"),
        (["a", "b"], ["O"], "2 tokens and 1 tags"),
        (["a"], ["B LOC"], "holds whitespace"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            b"".join(encode_conll(iter([{"tokens": tokens, "tags": tags}]), conll))
