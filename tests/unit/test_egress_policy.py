"""The egress policy (domain/egress.py): URLs, allow-lists and addresses, without any I/O."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.egress import (
    RULES,
    EgressRefused,
    address_rule,
    embedded_ipv4,
    legacy_ipv4,
    parse_allow_entry,
    parse_allow_list,
    parse_target,
    refuse_redirect,
    require_allowed_host,
    require_public_address,
)
from bastion.domain.errors import InvalidInput


def refused(rule: str, fn, *args, **kwargs) -> EgressRefused:
    with pytest.raises(EgressRefused) as caught:
        fn(*args, **kwargs)
    assert caught.value.rule == rule and caught.value.code == "egress_refused"
    assert f"({rule})" in caught.value.message and caught.value.details["rule"] == rule
    return caught.value


@pytest.mark.parametrize(
    "url,rule",
    [
        ("ftp://models.example/v1", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("models.example/v1", "scheme"),
        ("http://user:secret@models.example/v1", "credentials"),
        ("https://token@models.example/v1", "credentials"),
        ("http://models.example:99999/", "malformed"),
        ("http:///v1", "malformed"),
        ("http://[::1/", "malformed"),
        ("http://mod els.example/", "malformed"),
        ("http://2130706433/", "ip_spelling"),
        ("http://0177.0.0.1/", "ip_spelling"),
        ("http://0x7f.0.0.1/", "ip_spelling"),
        ("http://0x7f000001/", "ip_spelling"),
        ("http://127.1/", "ip_spelling"),
        ("http://127.0.0.01/", "ip_spelling"),
        ("http://1.2.3.4.5/", "ip_spelling"),
        ("http://[fe80::1%25eth0]/", "malformed"),
    ],
)
def test_urls_refused_by_rule(url, rule):
    refused(rule, parse_target, url)


def test_odd_spellings_name_the_address_they_mean():
    error = refused("ip_spelling", parse_target, "http://2130706433/")
    assert "127.0.0.1" in error.message


def test_targets_are_canonical():
    t = parse_target("https://API.Example.com./v1")
    assert (t.scheme, t.host, t.port, t.address) == ("https", "api.example.com", 443, None)
    t = parse_target("http://[::FFFF:127.0.0.1]:8080/x")
    assert t.host == "::ffff:7f00:1" and t.port == 8080 and t.authority == "[::ffff:7f00:1]:8080"


def test_allow_entries_are_exact_and_refuse_wildcards_and_urls():
    assert str(parse_allow_entry("Models.Example:8443")) == "models.example:8443"
    assert str(parse_allow_entry("[::1]:9")) == "[::1]:9"
    assert parse_allow_entry("10.0.0.7").address == ipaddress.ip_address("10.0.0.7")
    for bad in ("*.example.com", "https://models.example", "models.example/v1", "a@b", "h:0", "h:x", "", "2130706433"):
        with pytest.raises(InvalidInput):
            parse_allow_entry(bad)
    with pytest.raises(InvalidInput, match="at most"):
        parse_allow_list([f"h{i}.example" for i in range(33)])


def test_deny_by_default_and_exact_ports():
    target = parse_target("https://models.example/v1")
    refused("host_not_allowed", require_allowed_host, target, [])
    refused("host_not_allowed", require_allowed_host, target, parse_allow_list(["other.example"]))
    refused("host_not_allowed", require_allowed_host, target, parse_allow_list(["api.models.example"]))
    refused("host_not_allowed", require_allowed_host, target, parse_allow_list(["models.example:8443"]))
    require_allowed_host(target, parse_allow_list(["models.example"]))
    require_allowed_host(target, parse_allow_list(["models.example:443"]))
    # no port in the entry: the scheme's default port only
    refused(
        "host_not_allowed",
        require_allowed_host,
        parse_target("https://models.example:8443/"),
        parse_allow_list(["models.example"]),
    )


@pytest.mark.parametrize(
    "address,rule",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "shared"),
        ("100.127.255.254", "shared"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "reserved"),
        ("2001:db8::1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link_local"),
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "reserved"),
        ("2002:7f00:1::", "loopback"),
        ("2002:a9fe:a9fe::1", "link_local"),
        ("64:ff9b::a9fe:a9fe", "reserved"),
    ],
)
def test_refused_ranges(address, rule):
    ip = ipaddress.ip_address(address)
    assert address_rule(ip) == rule
    refused(rule, require_public_address, ip, [], host="models.example")
    require_public_address(ip, parse_allow_list([address if ":" not in address else f"[{address}]"]), host="x")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"])
def test_public_addresses_pass(address):
    assert address_rule(ipaddress.ip_address(address)) is None


def test_a_name_resolving_to_a_refused_address_is_named_in_the_refusal():
    error = refused("loopback", require_public_address, ipaddress.ip_address("127.0.0.1"), [], host="localhost")
    assert "localhost resolves to it" in error.message and error.details["address"] == "127.0.0.1"


def test_an_allowed_address_is_exact():
    allowed = parse_allow_list(["127.0.0.1"])
    refused("loopback", require_public_address, ipaddress.ip_address("127.0.0.2"), allowed, host="h")
    refused("loopback", require_public_address, ipaddress.ip_address("::ffff:127.0.0.1"), allowed, host="h")


def test_redirect_names_the_location_host():
    error = refuse_redirect(302, "http://evil.example:81/x", "https://models.example/v1/chat/completions")
    assert error.rule == "redirect" and "evil.example:81" in error.message
    assert "models.example" in refuse_redirect(301, "/elsewhere", "https://models.example/v1").message


def test_every_rule_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "egress.md").read_text()
    for rule in RULES:
        assert f"`{rule}`" in text, rule


# -- properties ------------------------------------------------------------------------

REFUSED_V4 = st.sampled_from(
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "0.0.0.0/8",
    ]
).flatmap(
    lambda net: st.integers(
        int(ipaddress.ip_network(net).network_address), int(ipaddress.ip_network(net).broadcast_address)
    ).map(ipaddress.IPv4Address)
)


@given(REFUSED_V4)
def test_refused_v4_stays_refused_in_every_ipv6_form(address):
    rule = address_rule(address)
    assert rule is not None
    mapped = ipaddress.IPv6Address(0xFFFF00000000 | int(address))
    assert address_rule(mapped) == rule and embedded_ipv4(mapped) == address
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))
    assert address_rule(six_to_four) is not None
    assert address_rule(ipaddress.IPv6Address(int(address))) is not None  # ::a.b.c.d


@given(st.integers(0, 2**32 - 1))
def test_every_numeric_spelling_is_refused_and_names_its_address(value):
    address = ipaddress.IPv4Address(value)
    octets = str(address).split(".")
    for spelling in (
        str(value),
        hex(value),
        ".".join("0" + oct(int(o))[2:] for o in octets),
        ".".join(hex(int(o)) for o in octets),
        f"{octets[0]}.{int(octets[1]) * 65536 + int(octets[2]) * 256 + int(octets[3])}",
    ):
        assert legacy_ipv4(spelling) == address, spelling
        error = refused("ip_spelling", parse_target, f"http://{spelling}/")
        assert str(address) in error.message
    assert parse_target(f"http://{address}/").address == address


@given(st.ip_addresses())
def test_an_address_named_exactly_is_always_allowed(address):
    entry = str(address) if address.version == 4 else f"[{address}]"
    require_public_address(address, parse_allow_list([entry]), host=str(address))
