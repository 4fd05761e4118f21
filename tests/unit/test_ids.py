from bastion import ids


def test_ids_are_prefixed_sortable_and_unguessable():
    batch = ids.new_ids("tsk", 1000)
    assert batch == sorted(batch) and len(set(batch)) == 1000
    assert all(ids.has_prefix(i, "tsk") for i in batch)
    one = ids.new_id("prj")
    assert ids.has_prefix(one, "prj") and not ids.has_prefix(one, "tsk")
    # 80 random bits: neighbours share the time prefix but not the random part.
    assert len({i[-20:] for i in batch}) == 1000
    assert ids.new_ids("x", 0) == []
