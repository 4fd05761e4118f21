import pytest

from bastion.domain.tasks import parse_item
from bastion.sources import BadLine, detect_format, iter_bytes


def test_jsonl_numbers_lines_and_skips_blank_ones():
    items = list(iter_bytes(b'{"data": {}}\n\n{bad\n', "jsonl"))
    assert items[0] == (1, {"data": {}})
    assert items[1][0] == 3 and isinstance(items[1][1], BadLine)


def test_csv_special_columns():
    items = list(iter_bytes(b"external_id,priority,text\nx1,5,hello\n", "csv"))
    assert items == [(2, {"data": {"text": "hello"}, "external_id": "x1", "priority": 5})]


def test_detect_format():
    assert detect_format("a.JSONL") == "jsonl" and detect_format("b.csv") == "csv"
    assert detect_format("c.parquet") == "parquet" and detect_format("d.txt") == "jsonl"
    assert detect_format("e.csv", "json") == "json"


@pytest.mark.parametrize(
    "item,message",
    [
        ({"data": []}, "data: required, a JSON object"),
        ({"data": {}, "external_id": ""}, "external_id"),
        ({"data": {}, "priority": "high"}, "priority: an integer"),
        ({"data": {}, "meta": 3}, "meta: must be a JSON object"),
        ({"data": {}, "predictions": "x"}, "predictions: must be a list"),
    ],
)
def test_parse_item_errors(item, message):
    with pytest.raises(ValueError) as info:
        parse_item(item)
    assert message in str(info.value)


def test_numeric_external_ids_become_strings():
    assert parse_item({"data": {}, "external_id": 7}).external_id == "7"
