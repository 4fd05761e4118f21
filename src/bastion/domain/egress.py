"""The egress policy: which URLs and addresses Bastion may reach out to (pure rules, no I/O).

Concept. Model endpoints (and, later, webhooks) are the only ways Bastion reaches out of
its machine. Each goes through one guard (``services/egress.py``) that asks this module,
in order:

1. ``parse_target``: the URL is ``http`` or ``https``, carries no credentials
   (``user:pass@``), names a host in a plain spelling — a name, a dotted-quad IPv4
   address, or a bracketed IPv6 address. Other spellings of numbers (``2130706433``,
   ``0177.0.0.1``, ``0x7f.1``) are refused, naming the address they would mean.
2. ``require_allowed_host``: the host and port are on the allow-list, *exactly* (deny by
   default; no wildcards, no suffixes). An entry without a port allows the scheme's
   default port only.
3. ``require_public_address``: every address the host name resolves to (looked up once)
   is a public unicast address, unless the allow-list names that exact address — so a
   lab can use a model in its own network by saying so. Loopback, link-local (the cloud
   metadata address 169.254.169.254 among them), private (RFC 1918, ULA ``fc00::/7``),
   shared (CGNAT ``100.64.0.0/10``), multicast, unspecified and reserved ranges are
   refused; IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible
   ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by that address.
4. ``refuse_redirect``: a 3xx answer is never followed; it is an error naming the
   ``Location``'s host.

Every refusal is ``EgressRefused`` (code ``egress_refused``) whose ``details.rule`` names
the rule; ``RULES`` lists them all (docs/egress.md).

The trap: checking a name and then letting the HTTP library resolve it again opens the
door to DNS rebinding (the second answer differs). The guard resolves once, checks every
address, and connects to the checked address itself; this module only decides.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .errors import InvalidInput, PermissionDenied

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# rule -> what it refuses (docs/egress.md lists the same)
RULES: dict[str, str] = {
    "scheme": "only http and https URLs",
    "credentials": "URLs carrying a user name or password",
    "malformed": "URLs that cannot be read (no host, a bad port, a bad IPv6 literal)",
    "ip_spelling": "numeric hosts not written as a.b.c.d or [IPv6] (decimal, octal, hex, short forms)",
    "host_not_allowed": "hosts (and ports) the allow-list does not name exactly",
    "no_address": "host names that resolve to no address",
    "unspecified": "the unspecified address (0.0.0.0, ::)",
    "loopback": "loopback addresses (127.0.0.0/8, ::1)",
    "link_local": "link-local addresses (169.254.0.0/16 with the cloud metadata address, fe80::/10)",
    "private": "private addresses (10/8, 172.16/12, 192.168/16, fc00::/7)",
    "shared": "shared address space (carrier-grade NAT, 100.64.0.0/10)",
    "multicast": "multicast addresses (224.0.0.0/4, ff00::/8)",
    "reserved": "reserved and special-purpose addresses (0/8, 240/4, documentation, benchmarking, …)",
    "redirect": "redirects (a 3xx answer is never followed)",
}

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ALLOWED = 32  # entries in one allow-list

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# Ranges refused unless the exact address is allowed, by rule. Checked in this order.
_RANGES: tuple[tuple[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]], ...] = (
    ("unspecified", (_V4("0.0.0.0/32"), _V6("::/128"))),
    ("loopback", (_V4("127.0.0.0/8"), _V6("::1/128"))),
    ("link_local", (_V4("169.254.0.0/16"), _V6("fe80::/10"))),
    ("private", (_V4("10.0.0.0/8"), _V4("172.16.0.0/12"), _V4("192.168.0.0/16"), _V6("fc00::/7"))),
    ("shared", (_V4("100.64.0.0/10"),)),
    ("multicast", (_V4("224.0.0.0/4"), _V6("ff00::/8"))),
    (
        "reserved",
        (
            _V4("0.0.0.0/8"),
            _V4("192.0.0.0/24"),
            _V4("192.0.2.0/24"),
            _V4("192.88.99.0/24"),
            _V4("198.18.0.0/15"),
            _V4("198.51.100.0/24"),
            _V4("203.0.113.0/24"),
            _V4("240.0.0.0/4"),  # 255.255.255.255 among them
            _V6("::/8"),  # loopback, unspecified and IPv4-compatible sit here; mapped ones are unwrapped first
            _V6("100::/64"),
            _V6("2001::/23"),
            _V6("2001:db8::/32"),
            _V6("3fff::/20"),
            _V6("5f00::/16"),
            _V6("fec0::/10"),
        ),
    ),
)
_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")

_DOTTED_QUAD = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")
_NUMBER = re.compile(r"^(0x[0-9a-f]*|\d+)$")
_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)


class EgressRefused(PermissionDenied):
    """The egress guard refused to reach out (HTTP 403); ``details.rule`` names the rule (``RULES``)."""

    code = "egress_refused"

    def __init__(self, rule: str, message: str, **details: object) -> None:
        super().__init__(f"egress refused ({rule}): {message}", details={"rule": rule, **details})
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Target:
    """A URL the guard may reach: its scheme, host (lower case; an IP in canonical form) and port."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None  # the host is an IP literal

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One allow-list entry: an exact host (a name or an IP address) and an optional port."""

    host: str
    port: int | None
    address: IPAddress | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address an inet_aton-style spelling means (``2130706433``, ``0177.0.0.1``, ``0x7f.1``), or None."""
    parts = host.rstrip(".").split(".") if host else []
    if not parts or len(parts) > 4 or not all(_NUMBER.match(p) for p in parts):
        return None
    try:
        numbers = [
            int(p, 16) if p.startswith("0x") else int(p, 8) if len(p) > 1 and p[0] == "0" else int(p) for p in parts
        ]
    except ValueError:
        return None  # "0x" alone, or 08/09 read as octal
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (5 - len(numbers)) + last
    return ipaddress.IPv4Address(value)


def _host_of(raw: str, *, what: str) -> tuple[str, IPAddress | None]:
    """A host in canonical form (and its address when it is an IP literal); refuses odd spellings."""
    host = raw.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise EgressRefused("malformed", f"{what}: IPv6 zone ids are not allowed ({raw!r})")
        try:
            v6 = ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise EgressRefused("malformed", f"{what}: {raw!r} is not an IPv6 address") from exc
        return str(v6), v6
    if _DOTTED_QUAD.match(host):
        v4 = ipaddress.IPv4Address(host)
        return str(v4), v4
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if _NUMBER.match(last):  # numbers that are not a.b.c.d: never a DNS name (WHATWG URL reads them as IPv4)
        meant = legacy_ipv4(host)
        means = f" (it would mean {meant}; write that)" if meant is not None else ""
        raise EgressRefused("ip_spelling", f"{what}: {raw!r} is not a plain IPv4 address{means}", host=raw)
    if not _NAME.match(host):
        raise EgressRefused("malformed", f"{what}: {raw!r} is not a valid host name")
    return host.rstrip("."), None


def parse_target(url: str) -> Target:
    """The URL's scheme, host and port, or ``EgressRefused`` naming the rule it breaks."""
    if not isinstance(url, str) or not url or any(c.isspace() or ord(c) < 32 for c in url):
        raise EgressRefused("malformed", "the URL is empty or holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefused("malformed", f"{url!r} cannot be read: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise EgressRefused(
            "scheme", f"only http and https URLs may be reached, not {scheme or 'a URL without a scheme'!r}"
        )
    if "@" in parts.netloc:
        raise EgressRefused("credentials", "the URL carries a user name or password; give an API key instead")
    raw_host = parts.netloc.rsplit(":", 1)[0] if port is not None or parts.netloc.endswith(":") else parts.netloc
    if not raw_host:
        raise EgressRefused("malformed", f"{url!r} names no host")
    if port == 0:
        raise EgressRefused("malformed", f"{url!r}: port 0 cannot be reached")
    host, address = _host_of(raw_host, what="URL")
    return Target(scheme, host, port if port is not None else DEFAULT_PORTS[scheme], address)


def parse_allow_entry(entry: str) -> AllowEntry:
    """``host``, ``host:port``, ``a.b.c.d[:port]`` or ``[v6][:port]``: exact, no wildcard, scheme or path."""
    if not isinstance(entry, str) or not entry.strip():
        raise InvalidInput("an allow-list entry is empty")
    text = entry.strip()
    if "*" in text:
        raise InvalidInput(f"allow-list entry {entry!r}: wildcards are not allowed; name each host exactly")
    if "/" in text or "@" in text or "?" in text or "#" in text:
        raise InvalidInput(f"allow-list entry {entry!r}: give host[:port] only (no scheme, path or credentials)")
    port: int | None = None
    host = text
    if text.startswith("["):
        close = text.find("]")
        rest = text[close + 1 :] if close > 0 else ""
        host = text[: close + 1] if close > 0 else text
        if rest:
            if not rest.startswith(":"):
                raise InvalidInput(f"allow-list entry {entry!r} cannot be read")
            port = _port(rest[1:], entry)
    elif text.count(":") == 1:
        host, _, raw_port = text.partition(":")
        port = _port(raw_port, entry)
    try:
        canonical, address = _host_of(host, what=f"allow-list entry {entry!r}")
    except EgressRefused as exc:
        raise InvalidInput(exc.message.removeprefix(f"egress refused ({exc.rule}): ")) from exc
    return AllowEntry(canonical, port, address)


def _port(raw: str, entry: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InvalidInput(f"allow-list entry {entry!r}: the port must be a number from 1 to 65535")
    return int(raw)


def parse_allow_list(entries: list[str]) -> list[AllowEntry]:
    """Every entry parsed (``InvalidInput`` naming the first bad one); duplicates dropped, order kept."""
    if len(entries) > MAX_ALLOWED:
        raise InvalidInput(f"an allow-list holds at most {MAX_ALLOWED} entries, not {len(entries)}")
    parsed: list[AllowEntry] = []
    for entry in entries:
        one = parse_allow_entry(entry)
        if one not in parsed:
            parsed.append(one)
    return parsed


def require_allowed_host(target: Target, allowed: list[AllowEntry]) -> None:
    """Deny by default: the target's host and port must be named exactly."""
    for entry in allowed:
        if entry.host == target.host and (entry.port or DEFAULT_PORTS[target.scheme]) == target.port:
            return
    names = ", ".join(str(e) for e in allowed) or "nothing"
    raise EgressRefused(
        "host_not_allowed",
        f"{target.authority} is not on the allow-list (it allows {names}); a workspace owner adds hosts exactly",
        host=target.authority,
    )


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    value = int(address)
    if address in _MAPPED or address in _NAT64:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)
    if value >> 32 == 0 and value > 1:  # ::a.b.c.d (deprecated IPv4-compatible); ::1 and :: are their own
        return ipaddress.IPv4Address(value)
    return None


def address_rule(address: IPAddress) -> str | None:
    """The rule that refuses ``address`` (``RULES``), or None for a public unicast address."""
    inner = embedded_ipv4(address)
    for candidate in (address, inner) if inner is not None else (address,):
        if inner is not None and candidate is address and address in _MAPPED:
            continue  # judged by the IPv4 address it maps
        for rule, networks in _RANGES:
            if any(candidate.version == n.version and candidate in n for n in networks):
                return rule
    return None


def require_public_address(address: IPAddress, allowed: list[AllowEntry], *, host: str) -> None:
    """Refuse a non-public address unless the allow-list names exactly it (or the IPv4 address it carries)."""
    rule = address_rule(address)
    if rule is None:
        return
    if any(e.address == address for e in allowed):
        return
    via = "" if host == str(address) else f" ({host} resolves to it)"
    raise EgressRefused(
        rule,
        f"{address}{via} is in a refused range ({RULES[rule]}); only an allow-list entry naming "
        "this exact address lets it be reached",
        address=str(address),
        host=host,
    )


def refuse_redirect(status: int, location: str | None, base_url: str) -> EgressRefused:
    """The error for a 3xx answer: redirects are never followed; it names where it pointed."""
    where = "no Location"
    if location:
        try:
            target = urlsplit(urljoin(base_url, location))
            where = f"to {target.hostname or '?'}" + (f":{target.port}" if target.port else "")
        except ValueError:
            where = "to an unreadable Location"
    return EgressRefused(
        "redirect", f"the server answered {status}, a redirect {where}; redirects are never followed", status=status
    )
