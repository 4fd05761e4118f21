"""``bastion import``: the file's digest, read beside the import, is audited with the annotations it
brings; the progress bar's line count comes from the same read."""

from __future__ import annotations

import hashlib

import orjson

from bastion.cli import imports as cli_imports


def test_the_file_digest_read_beside_the_import_is_audited(cli, tmp_path):
    cli("init")
    cli("user", "create", "owner@example.com", "--name", "Owner")
    ws = cli("workspace", "create", "Acme", "--owner", "owner@example.com").stdout.strip()
    config = tmp_path / "config.yaml"
    config.write_text("type: classification\nfield: text\nlabels: ['yes', 'no']\n")
    project = cli("project", "create", ws, "--config", str(config), "--name", "Triage").stdout.strip()
    data = tmp_path / "tasks.jsonl"
    lines = [
        {
            "data": {"text": f"t{i}"},
            "external_id": str(i),
            "annotations": [{"author": "owner@example.com", "result": {"label": "yes"}}] if i < 3 else [],
        }
        for i in range(30)
    ]
    data.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    assert "imported 30" in cli("import", project, str(data)).stdout
    log = tmp_path / "audit.jsonl"
    cli("audit", "export", ws, "--out", str(log))
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines() if b"annotations.imported" in line]
    assert len(entries) == 1
    assert hashlib.sha256(data.read_bytes()).hexdigest() in orjson.dumps(entries[0]).decode()


def test_the_survey_counts_lines_and_digests_in_one_read(tmp_path):
    data = tmp_path / "big.jsonl"
    body = b"".join(b'{"data": {"text": "line %d"}}\n' % i for i in range(300_000))  # several reads of 1 MiB
    data.write_bytes(body)
    counted: list[int] = []
    assert cli_imports._survey(data, True, counted.append) == hashlib.sha256(body).hexdigest()
    assert counted == [300_000]
    assert cli_imports._survey(data, False, counted.append) == hashlib.sha256(body).hexdigest()
    assert counted == [300_000]  # not counted again when not asked


def test_a_batch_size_past_one_search_block_is_a_usage_error(cli, tmp_path):
    cli("init")
    data = tmp_path / "tasks.jsonl"
    data.write_bytes(b'{"data": {"text": "one"}}\n')
    result = cli("import", "prj_0123456789abcdef0123456789abcdef", str(data), "--batch-size", "100000", ok=False)
    assert result.exit_code == 2
    assert "--batch-size" in result.stderr and "65536" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
