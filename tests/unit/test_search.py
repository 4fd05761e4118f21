"""The search index's pure parts: tokens, queries, block encoding; per-task agreement and answer labels."""

from __future__ import annotations

import pytest

from bastion.domain import search
from bastion.domain.errors import InvalidInput
from bastion.services.browse import parse_query, preview
from bastion.tasktypes import installed


def test_words_are_normalised_whole_words_in_any_script():
    assert search.words("Café-Crème, CAFÉ! ﬁle x_y 12") == [
        b"caf\xc3\xa9",
        b"cr\xc3\xa8me",
        b"caf\xc3\xa9",
        b"file",
        b"x_y",
        b"12",
    ]
    assert search.words("Straße") == [b"strasse"]  # case folding, not lower-casing
    assert search.task_tokens({"text": "Hello hello"}, {"lang": "FR", "n": 3, "ok": True, "tags": ["a", "B"]}) == {
        b"hello",
        b"fr",
        b"a",
        b"b",
        b"meta:lang=fr",
        b"meta:n=3",
        b"meta:ok=true",
        b"meta:tags=a",
        b"meta:tags=b",
    }
    assert b"meta:who.name=ada" in search.task_tokens({"text": ""}, {"who": {"name": "Ada"}})


def test_a_query_ands_its_words_and_reads_the_typed_forms():
    q = search.query_terms("Refund  meta:Lang=FR label:Spam café's", meta=["src = web"], labels=["ham"])
    assert q.terms == (b"refund", b"meta:lang=fr", b"caf\xc3\xa9", b"s", b"meta:src=web")
    assert q.labels == (b"label:spam", b"label:ham")
    assert search.query_terms("  ").is_empty
    with pytest.raises(ValueError, match="meta filter is key=value"):
        search.query_terms("meta:lang")
    with pytest.raises(ValueError, match="at most"):
        search.query_terms(" ".join(f"w{i}" for i in range(search.MAX_TERMS + 1)))


def test_labels_of_any_kind_are_one_token_form():
    assert search.label_token(0) == search.label_token("0") == b"label:0"
    assert search.label_token("Tie") == b"label:tie"


def test_ids_pack_and_are_found_by_ordinal():
    ids = [f"tsk_{n:032x}" for n in (3, 9, 40, 41)]
    blob = search.pack_ids(ids)
    assert [search.unpack_id(blob, i) for i in range(4)] == ids
    assert [search.id_ordinal(blob, i) for i in ids] == [0, 1, 2, 3]
    assert search.id_ordinal(blob, f"tsk_{10:032x}") is None
    assert search.id_ordinal(blob, "tsk_not-hex") is None
    dead = search.mark_dead(None, 4, [1, 3])
    assert [search.is_dead(dead, i) for i in range(4)] == [False, True, False, True]
    assert not search.all_dead(dead, 4) and search.all_dead(search.mark_dead(dead, 4, [0, 2]), 4)


def test_the_hash_is_keyed():
    one, other = search.token_hasher(b"a" * 32), search.token_hasher(b"b" * 32)
    assert one(b"refund") == one(b"refund") != other(b"refund")
    assert len(one(b"refund")) == search.HASH_BYTES


def test_the_browser_query_names_the_field_it_refuses():
    assert parse_query({"q": " refund ", "meta": ["lang=fr", ""], "gold": "no"}).meta == ("lang=fr",)
    for params, field in (
        ({"agreement_below": "2"}, "agreement_below"),
        ({"agreement_below": "nan"}, "agreement_below"),
        ({"state": "lost"}, "state"),
        ({"review": "maybe"}, "review"),
        ({"sort": "random"}, "sort"),
        ({"meta": "lang"}, "meta"),
        ({"import": "prj_1"}, "import"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_from": "2026-02-02", "created_to": "2026-02-01"}, "created_to"),
        ({"limit": "5000"}, "limit"),
        ({"q": "x" * 1001}, "q"),
    ):
        with pytest.raises(InvalidInput, match=field):
            parse_query(params)


def test_a_preview_is_one_line_of_text_never_json():
    assert preview({"text": "Hello\n\n  world", "n": 3}) == "Hello world"
    assert preview({"prompt": "Which?", "responses": ["A one", "B two"]}) == "Which? · A one · B two"
    long = preview({"text": "word " * 100})
    assert len(long) <= 160 and long.endswith("…") and "{" not in long


def _type(name):
    return installed().get(name)


def test_task_agreement_is_the_mean_pairwise_share_of_what_answers_have_in_common():
    cls = _type("classification")
    single = cls.parse_config({"type": "classification", "field": "text", "labels": ["a", "b"]})
    assert cls.task_agreement(single, [{"label": "a"}, {"label": "a"}]) == 1.0
    assert cls.task_agreement(single, [{"label": "a"}, {"label": "b"}]) == 0.0
    assert cls.task_agreement(single, [{"label": "a"}, {"label": "a"}, {"label": "b"}]) == pytest.approx(1 / 3)
    assert cls.task_agreement(single, [{"label": "a"}]) is None
    multi = cls.parse_config({"type": "classification", "field": "text", "labels": ["a", "b", "c"], "multiple": True})
    assert cls.task_agreement(multi, [{"labels": ["a", "b"]}, {"labels": ["b", "c"]}]) == pytest.approx(1 / 3)
    ranking = _type("ranking")
    rconfig = ranking.parse_config({"type": "ranking"})
    assert ranking.task_agreement(rconfig, [{"ranks": [1, 2, 3]}, {"ranks": [1, 3, 2]}]) == pytest.approx(1 / 5)
    writing = _type("writing")
    assert writing.task_agreement(writing.parse_config(writing.template), [{"text": "x"}, {"text": "x"}]) is None


def test_answers_give_their_labels_and_configs_their_choices():
    cls = _type("classification")
    config = cls.parse_config(cls.template)
    assert cls.label_values(config) == ["positive", "negative", "neutral", "other"]
    assert cls.result_labels(config, {"label": "other", "other_text": "spam"}) == ["other"]
    spans = _type("spans")
    sconfig = spans.parse_config(spans.template)
    result = {"spans": [{"start": 0, "end": 3, "label": "ORG", "text": "abc"}], "relations": []}
    assert spans.result_labels(sconfig, result) == ["ORG"]
    pref = _type("preference")
    pconfig = pref.parse_config(pref.template)
    assert pref.label_values(pconfig) == ["0", "1", "tie"]
    assert pref.result_labels(pconfig, {"preferred": 1, "criteria": {"honesty": 0}}) == [1]
