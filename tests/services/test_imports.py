"""Import: per-line errors, duplicates, idempotent re-runs, strict mode, formats."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from bastion.domain.errors import InvalidInput, NotFound, PermissionDenied
from bastion.services import imports, projects
from bastion.sources import iter_bytes, iter_file
from bastion.storage import schema
from factories import make_side, operator_tx, system


def _count(rt) -> int:
    with operator_tx(rt, write=False) as tx:
        return tx.execute(select(func.count()).select_from(schema.tasks)).scalar_one()


def test_bad_lines_are_reported_and_the_rest_imported(rt):
    side = make_side(rt, "i", n_tasks=0)
    body = b"\n".join(
        [
            b'{"data": {"text": "one"}}',
            b'{"data": {"text": "two"',
            b'{"data": {"other": "x"}}',
            b'{"data": {"text": 3}}',
            b"[1, 2]",
            b'{"data": {"text": "ok"}, "surprise": 1}',
            b"",
            b'{"data": {"text": "last"}, "external_id": "L"}',
        ]
    )
    report = imports.import_tasks(side.ctx(rt, "manager"), side.project_id, iter_bytes(body, "jsonl"))
    assert report.imported == 2
    assert [r["line"] for r in report.rejected] == [2, 3, 4, 5, 6]
    messages = {r["line"]: r["error"] for r in report.rejected}
    assert "not valid JSON" in messages[2]
    assert "data.text: missing" in messages[3]
    assert "data.text: must be a string" in messages[4]
    assert "surprise: unknown key" in messages[6]


def test_reimport_adds_only_what_is_missing(rt):
    side = make_side(rt, "d", n_tasks=0)
    ctx = side.ctx(rt, "manager")
    first = [(i, {"data": {"text": f"t{i}"}, "external_id": f"e{i}"}) for i in range(1, 6)]
    assert imports.import_tasks(ctx, side.project_id, first[:3], batch_size=2).imported == 3
    report = imports.import_tasks(ctx, side.project_id, first, batch_size=2)
    assert (report.imported, report.duplicates) == (2, 3)
    # Without external ids, identical content is the same task.
    same = [(1, {"data": {"text": "same"}}), (2, {"data": {"text": "same"}})]
    report = imports.import_tasks(ctx, side.project_id, same)
    assert (report.imported, report.duplicates) == (1, 1)
    assert _count(rt) == 6
    assert projects.get_project(system(rt), side.project_id).counts.tasks == 6


def test_strict_writes_nothing_when_a_line_is_bad(rt):
    side = make_side(rt, "st", n_tasks=0)
    body = b'{"data": {"text": "a"}}\n{"data": {}}\n{"data": {"text": "c"}}\n'
    report = imports.import_tasks(
        side.ctx(rt, "manager"), side.project_id, lambda: iter_bytes(body, "jsonl"), strict=True
    )
    assert report.imported == 0 and report.rejected == [
        {"line": 2, "error": "data.text: missing (the project's config labels this field)"}
    ]
    assert _count(rt) == 0
    good = b'{"data": {"text": "a"}}\n{"data": {"text": "c"}}\n'
    report = imports.import_tasks(
        side.ctx(rt, "manager"), side.project_id, lambda: iter_bytes(good, "jsonl"), strict=True
    )
    assert report.imported == 2


def test_csv_json_and_parquet_sources(rt, tmp_path):
    side = make_side(rt, "f", n_tasks=0)
    ctx = side.ctx(rt, "manager")
    csv_path = tmp_path / "t.csv"
    csv_path.write_text('external_id,text,extra\nc1,"hello, world",x\nc2,second,y\nc3,third,z,unexpected\n')
    report = imports.import_tasks(ctx, side.project_id, iter_file(csv_path, "csv"))
    assert report.imported == 2 and report.rejected[0]["line"] == 4
    report = imports.import_tasks(ctx, side.project_id, iter_bytes(b'[{"data": {"text": "j"}}, 7]', "json"))
    assert report.imported == 1 and report.rejected == [
        {"line": 2, "error": 'a task must be a JSON object like {"data": {...}}'}
    ]
    table = pa.table({"external_id": ["p1", "p2"], "text": ["pa", "pb"]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    report = imports.import_tasks(ctx, side.project_id, iter_bytes(buf.getvalue(), "parquet"))
    assert report.imported == 2
    report = imports.import_tasks(ctx, side.project_id, iter_bytes(b"not parquet", "parquet"))
    assert report.imported == 0 and "Parquet" in report.rejected[0]["error"]


def test_predictions_are_validated(rt):
    side = make_side(rt, "pr", n_tasks=0)
    items = [
        (1, {"data": {"text": "a"}, "predictions": [{"label": "pos"}]}),
        (2, {"data": {"text": "b"}, "predictions": [{"label": "nope"}]}),
    ]
    report = imports.import_tasks(side.ctx(rt, "manager"), side.project_id, items)
    assert report.imported == 1
    assert "predictions: result.label: 'nope' is not a label" in report.rejected[0]["error"]


def test_import_needs_the_right_role_and_workspace(rt):
    a = make_side(rt, "ra", n_tasks=0)
    b = make_side(rt, "rb", n_tasks=0)
    items = [(1, {"data": {"text": "x"}})]
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            imports.import_tasks(a.ctx(rt, role), a.project_id, items)
    with pytest.raises(NotFound):
        imports.import_tasks(a.ctx(rt, "owner"), b.project_id, items)
    assert _count(rt) == 0


def test_payload_is_sealed_at_rest(rt):
    side = make_side(rt, "enc", n_tasks=0)
    canary = "CANARY-7f3a-plaintext"
    imports.import_tasks(
        side.ctx(rt, "manager"),
        side.project_id,
        [(1, {"data": {"text": canary}, "external_id": "ext-CANARY", "meta": {"m": canary}})],
    )
    with operator_tx(rt, write=False) as tx:
        rows = tx.execute(select(schema.tasks)).all()
    for row in rows:
        for value in row:
            if isinstance(value, (bytes, str)):
                raw = value if isinstance(value, bytes) else value.encode()
                assert b"CANARY" not in raw


@pytest.mark.parametrize("size", [0, -5, imports.MAX_BATCH + 1, True, 2.5])
def test_a_batch_size_out_of_range_is_refused_before_anything_is_written(rt, size):
    side = make_side(rt, "bs", n_tasks=0)
    with pytest.raises(InvalidInput, match="batch size: a whole number from 1 to 65,536"):
        imports.import_tasks(
            side.ctx(rt, "manager"), side.project_id, iter_bytes(b'{"data": {"text": "one"}}', "jsonl"), batch_size=size
        )
    with operator_tx(rt, write=False) as tx:
        count = select(func.count()).select_from(schema.tasks).where(schema.tasks.c.project_id == side.project_id)
        assert tx.conn.execute(count).scalar() == 0


def test_the_largest_batch_is_one_search_block(rt):
    side = make_side(rt, "bm", n_tasks=0)
    body = b"\n".join(b'{"data": {"text": "t%d"}}' % i for i in range(imports.MAX_BATCH + 3))
    report = imports.import_tasks(
        side.ctx(rt, "manager"), side.project_id, iter_bytes(body, "jsonl"), batch_size=imports.MAX_BATCH
    )
    assert report.imported == imports.MAX_BATCH + 3
