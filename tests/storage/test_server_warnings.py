"""Warnings about the database server's setup, printed by `bastion serve`."""

from __future__ import annotations


def test_autovacuum_off_is_named(rt):
    warnings = rt.db.server_warnings()
    if rt.db.is_sqlite:
        assert warnings == []
        return
    with rt.db.engine.connect() as conn:
        autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar()
    if autovacuum == "off":
        assert len(warnings) == 1 and "autovacuum is off" in warnings[0] and "VACUUM ANALYZE" in warnings[0]
    else:
        assert warnings == []
