"""A bulk import's garbage collector settings: raised while it runs, put back after, even when it fails."""

from __future__ import annotations

import gc

import pytest

from bastion.services import imports


def test_collections_are_rare_during_and_restored_after():
    before = gc.get_threshold()
    with imports._rare_collections():
        assert gc.get_threshold()[0] >= imports.BULK_GC_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0  # what existed at start is out of the collector's walks
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_after_a_failed_import():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), imports._rare_collections():
        raise RuntimeError("the import failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
