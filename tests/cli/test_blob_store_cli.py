"""The blob store's settings from the CLI: a bad one is named, with no traceback."""

from __future__ import annotations


def test_a_bad_blob_store_setting_is_named(cli, monkeypatch):
    cli("init")
    monkeypatch.setenv("BASTION_BLOB_STORE", "s3")
    result = cli("workspace", "list", ok=False)
    assert result.exit_code == 1 and "s3_bucket: the s3 blob store needs a bucket (BASTION_S3_BUCKET)" in result.stderr
    monkeypatch.setenv("BASTION_S3_BUCKET", "labels")
    monkeypatch.setenv("BASTION_S3_PART_SIZE_MB", "2")
    result = cli("workspace", "list", ok=False)
    assert (
        result.exit_code == 1 and "BASTION_S3_PART_SIZE_MB: Input should be greater than or equal to 5" in result.stderr
    )
    assert "Traceback" not in result.stderr
    monkeypatch.setenv("BASTION_BLOB_STORE", "tape")
    monkeypatch.delenv("BASTION_S3_PART_SIZE_MB")
    result = cli("workspace", "list", ok=False)
    assert result.exit_code == 1 and "blob_store: no blob store named 'tape' (built in: disk, s3)" in result.stderr
