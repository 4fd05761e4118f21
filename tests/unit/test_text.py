"""domain/text.py: where a NUL sits in a JSON-like value."""

from __future__ import annotations

from bastion.domain.text import find_nul, has_nul


def test_paths_name_where_the_nul_is():
    assert find_nul("plain") is None and find_nul({"a": ["b", {"c": 1}]}) is None
    assert find_nul("a\x00") == ""
    assert find_nul({"config": {"labels": ["pos", "n\x00eg"]}}) == "config.labels[1]"
    assert find_nul({"da\x00ta": 1}) == "da\\0ta"
    assert find_nul([{"x": "ok"}, {"x": "b\x00d"}], "items") == "items[1].x"
    assert find_nul("C:\\u0000 is text") is None  # a backslash, not a NUL


def test_a_deep_value_is_walked_without_recursion():
    deep = "end\x00"
    for _ in range(50_000):
        deep = [deep]
    assert has_nul(deep)
    assert find_nul(deep).endswith("[0]") and find_nul(deep).count("[0]") == 50_000
