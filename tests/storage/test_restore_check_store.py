"""Every binary column of the schema is either sealed (and so opened by ``restore --check``) or named
here as not sealed, with why: a table added with a sealed column and left out of
``SEALED_PLACES`` fails this test instead of passing the restore check unchecked."""

from __future__ import annotations

from sqlalchemy import LargeBinary

from bastion.storage import schema
from bastion.storage.restore_check_store import SEALED_PLACES

NOT_SEALED = {
    ("audit_events", "leaf"): "the audit entry's canonical JSON: metadata, verified by the audit check",
    ("audit_events", "leaf_hash"): "a hash of the leaf",
    ("audit_heads", "frontier"): "Merkle subtree roots",
    ("audit_nodes", "hash"): "a Merkle node",
    ("files", "digest"): "a keyed digest for deduplication",
    ("import_keys", "key_hash"): "a keyed hash of an Idempotency-Key",
    ("import_keys", "body_hash"): "a keyed hash of an import body",
    ("search_blocks", "task_ids"): "the blind index's task lists",
    ("search_blocks", "dead"): "a bitmap",
    ("search_postings", "postings"): "the blind index's postings",
    ("search_labels", "token"): "a keyed token hash",
    ("tasks", "dedupe_key"): "a keyed hash of the external id",
}


def test_every_binary_column_is_checked_as_sealed_or_named_as_not_sealed():
    binary = {
        (table.name, column.name)
        for table in schema.metadata.sorted_tables
        for column in table.c
        if isinstance(column.type, LargeBinary)
    }
    sealed = {(table, column) for table, (_, columns) in SEALED_PLACES.items() for column in columns}
    assert sealed | set(NOT_SEALED) == binary
    assert not sealed & set(NOT_SEALED)
    for table, (id_column, _) in SEALED_PLACES.items():
        assert id_column in schema.metadata.tables[table].c and "workspace_id" in schema.metadata.tables[table].c
