"""Deterministic detectors: the seeded corpus (recall and precision per type) and the edge cases."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from bastion.redaction import EntityType, Match, detect, load_policy, resolve_overlaps
from bastion.redaction.checksums import card_brand, iban_is_valid, luhn_is_valid, shannon_entropy
from bastion.redaction.policy import Redactor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "redaction"
DETERMINISTIC = {t.value for t in EntityType}
PRECISION_FLOOR = 0.95


def _corpus() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]


def _score(redactor: Redactor, kinds: set[str]) -> tuple[Counter, Counter, Counter, list[str]]:
    """True positives, misses and false positives per type; an expected value counts at every occurrence."""
    hits, misses, false = Counter(), Counter(), Counter()
    problems: list[str] = []
    for line in _corpus():
        text = line["text"]
        found = [m for m in redactor.find(text) if m.entity_type in kinds]
        expected = []
        for entity in line["entities"]:
            if entity["type"] not in kinds:
                continue
            at = text.find(entity["value"])
            while at != -1:
                expected.append((at, at + len(entity["value"]), entity["type"]))
                at = text.find(entity["value"], at + 1)
        for start, end, kind in expected:
            covered = [
                m for m in found
                if m.entity_type == kind and min(end, m.end) - max(start, m.start) >= 0.9 * (end - start)
            ]  # fmt: skip
            if covered:
                hits[kind] += 1
            else:
                misses[kind] += 1
                problems.append(f"missed {kind} {text[start:end]!r} in {line['id']}")
        for match in found:
            if not any(match.entity_type == k and match.start < e and s < match.end for s, e, k in expected):
                false[match.entity_type] += 1
                problems.append(f"false {match.entity_type} {match.text!r} in {line['id']}")
    return hits, misses, false, problems


def test_corpus_recall_is_total_and_precision_above_floor_per_type() -> None:
    redactor = Redactor(load_policy({}))
    hits, misses, false, problems = _score(redactor, DETERMINISTIC)
    print("\ntype              recall       precision")
    for kind in sorted(set(hits) | set(misses) | set(false)):
        recall = hits[kind] / max(1, hits[kind] + misses[kind])
        precision = hits[kind] / max(1, hits[kind] + false[kind])
        print(f"{kind:16}  {hits[kind]:3}/{hits[kind] + misses[kind]:<3} {recall:6.1%}  {precision:6.1%}")
    assert not misses, problems
    assert set(hits) == DETERMINISTIC, "the corpus must seed every detector type"
    total_false = sum(false.values())
    assert sum(hits.values()) / (sum(hits.values()) + total_false) >= PRECISION_FLOOR, problems
    for kind in hits:
        assert hits[kind] / (hits[kind] + false[kind]) >= PRECISION_FLOOR, problems


def test_negatives_in_the_corpus_produce_no_deterministic_findings() -> None:
    redactor = Redactor(load_policy({}))
    for line in _corpus():
        if line["id"].startswith("neg-"):
            found = [m for m in redactor.find(line["text"]) if m.entity_type in DETERMINISTIC]
            assert found == [], (line["id"], found)


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),
        ("0", True),
        ("", False),
        ("12a4", False),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_is_valid(digits) is valid


def test_iban_checks_length_and_mod97() -> None:
    assert iban_is_valid("GB82WEST12345698765432")
    assert not iban_is_valid("GB82WEST12345698765433")  # one digit off
    assert not iban_is_valid("GB82WEST1234569876543")  # one character short
    assert not iban_is_valid("ZZ82WEST12345698765432")  # no such country


def test_card_needs_an_issuer_prefix_as_well_as_luhn() -> None:
    assert luhn_is_valid("1234567812345670")
    assert card_brand("1234567812345670") is None
    assert detect("ref 1234 5678 1234 5670") == []
    assert [m.entity_type for m in detect("card 4111-1111-1111-1111")] == ["payment_card"]


def test_card_with_mixed_separators_is_not_a_card() -> None:
    assert detect("4111 1111-1111 1111") == []


def test_iban_followed_by_a_word_is_cut_at_its_length() -> None:
    (match,) = detect("pay GB82 WEST 1234 5698 7654 32 TODAY")
    assert match.text == "GB82 WEST 1234 5698 7654 32"


def test_validated_matches_are_high_confidence() -> None:
    text = "4111111111111111 DE89370400440532013000 " + _jwt({"alg": "HS256"}, {"sub": "x"})
    assert [m.confidence for m in detect(text)] == [0.99, 0.99, 0.99]


def test_jwt_shape_without_a_decodable_header_is_low_confidence() -> None:
    (match,) = detect("token eyJub3RqdXN0.eyJhYmNkZWZn.c2ln")
    assert match.entity_type == "jwt"
    assert match.confidence < 0.5


def test_jwt_header_without_alg_is_low_confidence() -> None:
    (match,) = detect(_jwt({"typ": "JWT"}, {"sub": "x"}))
    assert match.confidence < 0.5


def test_email_inside_url_authority_is_left_to_the_url_credentials_detector() -> None:
    found = detect("postgres://admin:pw1234@db.example.com/app")
    assert [(m.entity_type, m.text) for m in found] == [("url_credentials", "admin:pw1234")]


def test_url_without_credentials_is_not_reported() -> None:
    text = "see https://www.example.com/docs/page?x=1 and git@github.com"
    start = text.index("git@")
    assert detect(text) == [Match(start, len(text), "email", "git@github.com", 0.95, "email")]


def test_version_string_is_not_an_ip_address() -> None:
    assert detect("upgrade to version 1.2.3.4 now") == []
    assert [m.text for m in detect("host 192.0.2.1.")] == ["192.0.2.1"]


def test_ipv6_needs_a_valid_address() -> None:
    assert [m.text for m in detect("addr 2001:db8::1:2 time 12:30:45 mac 00:1A:2B:3C:4D:5E")] == ["2001:db8::1:2"]


def test_dates_and_plain_numbers_are_not_phones() -> None:
    for text in ["on 2024-03-15", "on 03.04.2024", "id 5551234567", "total 1234567890", "call me 2024"]:
        assert detect(text) == [], text


def test_seven_digit_number_is_a_phone_only_with_a_context_word() -> None:
    assert detect("ticket 555-0134 closed") == []
    (match,) = detect("phone: 555-0134")
    assert match.confidence < 0.9


def test_truncated_pem_block_stops_where_the_base64_stops() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\nAASCBKcwggSj\n\nWhat is this key for?"
    (match,) = detect(text)
    assert match.entity_type == "private_key"
    assert match.text.endswith("AASCBKcwggSj")


def test_generic_secret_needs_context_and_randomness() -> None:
    assert detect("f3a9c1e7b2d84f6a9e0c5b7d1a2e3f40") == []  # no context word
    assert detect("sort_key = created_at_timestamp_v2") == []  # context word, not random
    (match,) = detect("secret_key: 'f3a9c1e7b2d84f6a9e0c5b7d1a2e3f40'")
    assert match.text == "f3a9c1e7b2d84f6a9e0c5b7d1a2e3f40"


def test_generic_secret_skips_placeholders() -> None:
    assert detect("password=${DB_PASSWORD} token=<paste-here> key: {{ vault.key }}") == []


def test_entropy() -> None:
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)


def test_resolve_overlaps_prefers_confidence_then_length() -> None:
    weak = Match(0, 10, "generic_secret", "x" * 10, 0.85)
    strong = Match(2, 8, "jwt", "x" * 6, 0.99)
    other = Match(10, 12, "email", "xx", 0.5)
    assert resolve_overlaps([weak, strong, other]) == [strong, other]
    longer = Match(0, 12, "a", "x" * 12, 0.9)
    shorter = Match(0, 5, "b", "x" * 5, 0.9)
    assert resolve_overlaps([shorter, longer]) == [longer]


def test_detect_filters_by_type() -> None:
    text = "jane@example.com 192.0.2.1"
    assert [m.entity_type for m in detect(text, types=["ip_address"])] == ["ip_address"]


def test_long_text_stays_fast() -> None:
    chunk = (
        "Status update for the week: the deploy of build 2024.03.15 went out at 12:30; logs from 192.0.2.7 show "
        "user jane.doe@example.com retried order ORD-2024-558812 three times. Version v2.14.3 fixed it. "
    )
    text = chunk * (50_000 // len(chunk) + 1) + " api_key=f3a9c1e7b2d84f6a9e0c5b7d1a2e3f40"
    started = time.process_time()
    found = detect(text)
    elapsed = time.process_time() - started
    assert found[-1].entity_type == "generic_secret"
    assert elapsed < 2.0, elapsed


def _jwt(header: dict, payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(payload)}.c2lnbmF0dXJl"
