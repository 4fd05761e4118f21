"""BASTION_OIDC_PROVIDERS: a bad entry is refused with the field named; what the groups claim may say."""

from __future__ import annotations

import json
import re

import pytest

from bastion.domain.errors import InvalidConfig, SignInRefused
from bastion.domain.oidc import email_is_verified, groups_of, parse_providers

GOOD = {"name": "corp", "label": "Corp", "issuer": "https://id.example.com", "client_id": "bastion"}


def _parse(*entries, environ=None):
    return parse_providers(json.dumps(list(entries)), environ or {})


def test_a_minimal_entry_gets_the_documented_defaults():
    (provider,) = _parse(GOOD).values()
    assert provider.scopes == ("openid", "email", "profile")
    assert provider.groups_claim == "groups" and provider.accounts == "invited" and provider.client_secret is None
    assert parse_providers(None, {}) == {} and parse_providers("  ", {}) == {}


def test_the_client_secret_comes_from_the_environment_variable_named_and_never_shows():
    (provider,) = _parse({**GOOD, "client_secret_env": "CORP_SECRET"}, environ={"CORP_SECRET": "s3cr3t"}).values()
    assert provider.client_secret == "s3cr3t" and "s3cr3t" not in repr(provider)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({**GOOD, "issuer": "http://id.example.com"}, "[0].issuer: 'http://id.example.com' must use https"),
        ({**GOOD, "issuer": "ftp://id.example.com"}, "[0].issuer"),
        ({**GOOD, "issuer": "https://id.example.com/?x=1"}, "[0].issuer"),
        ({k: v for k, v in GOOD.items() if k != "client_id"}, "[0].client_id"),
        ({**GOOD, "name": "Has Spaces"}, "[0].name"),
        ({**GOOD, "label": ""}, "[0].label"),
        ({**GOOD, "accounts": "everyone"}, "[0].accounts"),
        ({**GOOD, "scopes": ["email"]}, "[0].scopes: must include 'openid'"),
        ({**GOOD, "scopes": "openid"}, "[0].scopes"),
        ({**GOOD, "client_secret_env": "UNSET_VARIABLE"}, "[0].client_secret_env: the environment variable"),
        ({**GOOD, "client_secret_env": "not a name"}, "[0].client_secret_env"),
        ({**GOOD, "clientid": "typo"}, "[0].clientid: unknown field"),
        ("not an object", "[0]: a JSON object"),
    ],
)
def test_a_bad_entry_names_its_field(entry, field):
    with pytest.raises(InvalidConfig, match=r"^BASTION_OIDC_PROVIDERS" + re.escape(field)):
        _parse(entry)


def test_loopback_issuers_may_use_http_for_development_and_tests():
    for issuer in ("http://127.0.0.1:9000", "http://localhost:9000/realms/dev", "http://[::1]:9000"):
        assert _parse({**GOOD, "issuer": issuer})["corp"].issuer == issuer


def test_names_are_unique_and_the_setting_must_be_a_json_list():
    with pytest.raises(InvalidConfig, match=r"\[1\]\.name: 'corp' is used twice"):
        _parse(GOOD, GOOD)
    with pytest.raises(InvalidConfig, match="not valid JSON"):
        parse_providers("[{", {})
    with pytest.raises(InvalidConfig, match="a JSON list"):
        parse_providers(json.dumps(GOOD), {})


def test_groups_claim_values():
    assert groups_of({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert groups_of({"groups": "a"}, "groups") == ["a"]
    assert groups_of({}, "groups") == []  # absent: no groups, so managed memberships end
    with pytest.raises(SignInRefused, match="not a list"):
        groups_of({"groups": [1, 2]}, "groups")
    with pytest.raises(SignInRefused, match="by reference"):  # Entra ID's overage: refused, never read as "none"
        groups_of({"_claim_names": {"groups": "src1"}}, "groups")


def test_a_bad_provider_setting_stops_the_start(tmp_path):
    from bastion.services.runtime import Runtime
    from bastion.settings import Settings

    settings = Settings(data_dir=tmp_path, master_key="11" * 32, oidc_providers='[{"name": "x"}]')
    with pytest.raises(InvalidConfig, match=r"BASTION_OIDC_PROVIDERS\[0\]\.label"):
        Runtime.open(settings)


def test_an_email_counts_as_verified_only_when_the_provider_says_so_or_is_trusted_to():
    plain, trusted = _parse(GOOD)["corp"], _parse({**GOOD, "trust_email": True})["corp"]
    assert email_is_verified({"email_verified": True}, plain) and not email_is_verified({}, plain)
    assert not email_is_verified({"email_verified": False}, plain)
    assert email_is_verified({}, trusted) and not email_is_verified({"email_verified": False}, trusted)
    with pytest.raises(InvalidConfig, match=r"\[0\]\.trust_email"):
        _parse({**GOOD, "trust_email": "yes"})
