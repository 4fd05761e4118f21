"""The egress guard against a real server on 127.0.0.1: every refusal, pinning, no second lookup.

Nothing here reaches any address but the loopback: names resolve through a resolver the
test installs, and a refused request never opens a connection (the server's request
log stays empty).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl

import httpx
import pytest

from bastion.domain.egress import EgressRefused
from bastion.domain.errors import RemoteError, RemoteTimeout
from bastion.services import egress
from model_server import model_server, served, tls_model_server  # noqa: F401  (fixtures)

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def names(monkeypatch):
    """Host names the guard resolves: a dict the test fills; every lookup is recorded."""
    table: dict[str, list[list[str]]] = {}
    asked: list[str] = []

    def resolve(host: str, port: int):
        asked.append(host)
        answers = table.get(host)
        if not answers:
            raise EgressRefused("no_address", f"{host} does not resolve", host=host)
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ipaddress.ip_address(a) for a in answer]

    monkeypatch.setattr(egress, "resolve_host", resolve)
    return table, asked


def post(url: str, allowed: list[str], **kwargs):
    return egress.send("POST", url, allowed, json=BODY, **kwargs)


def refused(rule: str, url: str, allowed: list[str], served) -> EgressRefused:
    with pytest.raises(EgressRefused) as caught:
        post(url, allowed)
    assert caught.value.rule == rule, caught.value.message
    assert served.requests == [], "a refused request reached the server"
    return caught.value


def test_an_exactly_allowed_address_is_reached(served):
    reply = post(served.url() + "/chat/completions", [f"127.0.0.1:{served.port}"])
    assert reply.status == 200 and reply.body.startswith(b"{")
    assert len(served.requests) == 1


def test_a_host_not_on_the_list_is_refused(served):
    error = refused("host_not_allowed", served.url() + "/chat/completions", [], served)
    assert "127.0.0.1" in error.message
    refused("host_not_allowed", served.url() + "/chat/completions", ["127.0.0.1"], served)  # port 80 only
    refused("host_not_allowed", served.url() + "/chat/completions", [f"127.0.0.2:{served.port}"], served)


def test_a_url_with_credentials_is_refused(served):
    refused("credentials", f"http://user:pw@127.0.0.1:{served.port}/v1", [f"127.0.0.1:{served.port}"], served)


def test_only_http_and_https(served):
    refused("scheme", f"ftp://127.0.0.1:{served.port}/v1", [f"127.0.0.1:{served.port}"], served)


def test_localhost_is_refused_unless_its_exact_address_is_allowed(served):
    # the system's own resolver: whatever localhost resolves to here is loopback
    error = refused(
        "loopback", f"http://localhost:{served.port}/v1/chat/completions", [f"localhost:{served.port}"], served
    )
    assert "localhost resolves to it" in error.message


def test_a_name_resolving_to_an_allowed_address_works_and_keeps_its_name(served, names):
    table, asked = names
    table["models.lab.test"] = [["127.0.0.1"]]
    url = f"http://models.lab.test:{served.port}/v1/chat/completions"
    refused("loopback", url, [f"models.lab.test:{served.port}"], served)
    reply = post(url, [f"models.lab.test:{served.port}", "127.0.0.1"])
    assert reply.status == 200
    assert served.requests[0]["headers"]["host"] == f"models.lab.test:{served.port}"


def test_every_resolved_address_is_checked(served, names):
    table, _ = names
    table["models.lab.test"] = [["127.0.0.1", "10.0.0.8"]]
    url = f"http://models.lab.test:{served.port}/v1/chat/completions"
    error = refused("private", url, [f"models.lab.test:{served.port}", "127.0.0.1"], served)
    assert "10.0.0.8" in error.message
    table["metadata.lab.test"] = [["169.254.169.254"]]
    refused("link_local", "http://metadata.lab.test/latest", ["metadata.lab.test"], served)
    table["cgnat.lab.test"] = [["100.64.1.1"]]
    refused("shared", "http://cgnat.lab.test/", ["cgnat.lab.test"], served)
    refused("no_address", "http://nowhere.lab.test/", ["nowhere.lab.test"], served)


def test_dns_rebinding_the_name_is_resolved_once(served, names, monkeypatch):
    """The first answer is checked and connected to; a second lookup (which would answer the
    metadata address) never happens — not by the guard, not by httpx."""
    table, asked = names
    table["rebind.lab.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        looked_up.append(host if isinstance(host, str) else host.decode())
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    reply = post(
        f"http://rebind.lab.test:{served.port}/v1/chat/completions", [f"rebind.lab.test:{served.port}", "127.0.0.1"]
    )
    assert reply.status == 200
    assert asked == ["rebind.lab.test"]
    assert "rebind.lab.test" not in looked_up  # httpx connected to the checked address itself
    assert served.requests[0]["headers"]["host"] == f"rebind.lab.test:{served.port}"


def test_ipv6_loopback_and_mapped_forms_are_refused(served, names):
    table, _ = names
    port = served.port
    table["v6.lab.test"] = [["::1"]]
    table["mapped.lab.test"] = [["::ffff:127.0.0.1"]]
    table["compat.lab.test"] = [["::127.0.0.1"]]
    refused("loopback", f"http://v6.lab.test:{port}/v1", [f"v6.lab.test:{port}"], served)
    # allowing 127.0.0.1 does not allow its IPv6 spellings: the address must be named exactly
    refused("loopback", f"http://mapped.lab.test:{port}/v1", [f"mapped.lab.test:{port}", "127.0.0.1"], served)
    refused("reserved", f"http://compat.lab.test:{port}/v1", [f"compat.lab.test:{port}", "127.0.0.1"], served)
    # literals: an IP the list does not name is not allowed, whatever else it names
    refused("host_not_allowed", f"http://[::1]:{port}/v1", [f"127.0.0.1:{port}"], served)
    refused("host_not_allowed", f"http://[::ffff:127.0.0.1]:{port}/v1", [f"127.0.0.1:{port}"], served)


def test_an_exactly_allowed_ipv6_loopback_is_reached(served):
    if served.port6 is None:
        pytest.skip("this machine has no IPv6 loopback")
    reply = post(f"http://[::1]:{served.port6}/v1/chat/completions", [f"[::1]:{served.port6}"])
    assert reply.status == 200


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1"])
def test_numeric_spellings_are_refused(served, host):
    error = refused("ip_spelling", f"http://{host}:{served.port}/v1", [f"127.0.0.1:{served.port}"], served)
    assert "127.0.0.1" in error.message


def test_a_redirect_is_not_followed_and_names_its_host(served):
    body = {"model": "redirect", "messages": []}
    with pytest.raises(EgressRefused) as caught:
        egress.send("POST", served.url() + "/chat/completions", [f"127.0.0.1:{served.port}"], json=body)
    assert caught.value.rule == "redirect" and "elsewhere.example:8080" in caught.value.message
    assert len(served.requests) == 1  # one request; the Location was never asked


def test_the_size_cap(served):
    with pytest.raises(RemoteError, match="more than 1000 bytes"):
        egress.send(
            "POST",
            served.url() + "/chat/completions",
            [f"127.0.0.1:{served.port}"],
            json={"model": "huge", "messages": []},
            limits=egress.Limits(max_bytes=1000),
        )


def test_the_read_timeout(served):
    with pytest.raises(RemoteTimeout):
        egress.send(
            "POST",
            served.url() + "/chat/completions",
            [f"127.0.0.1:{served.port}"],
            json={"model": "slow", "messages": []},
            limits=egress.Limits(read_seconds=0.3),
        )


def test_a_closed_port_is_a_remote_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RemoteError, match="could not reach"):
        egress.send("GET", f"http://127.0.0.1:{port}/", [f"127.0.0.1:{port}"])


def test_https_keeps_the_name_for_tls_and_connects_to_the_checked_address(names, monkeypatch):
    """The request httpx sends names the checked IP, and carries the name as SNI and Host (no TLS server needed)."""
    table, _ = names
    table["models.lab.test"] = [["127.0.0.1"]]
    seen: list[httpx.Request] = []

    def send(self, request, **kwargs):
        seen.append(request)
        return httpx.Response(200, content=b"{}", request=request)

    monkeypatch.setattr(httpx.Client, "send", send)
    reply = egress.send("POST", "https://models.lab.test/v1/x", ["models.lab.test", "127.0.0.1"], json={})
    assert reply.status == 200
    (request,) = seen
    assert request.url.host == "127.0.0.1" and request.url.scheme == "https" and request.url.path == "/v1/x"
    assert request.headers["host"] == "models.lab.test"
    assert request.extensions["sni_hostname"] == "models.lab.test"


def test_no_proxy_from_the_environment(served, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    reply = post(served.url() + "/chat/completions", [f"127.0.0.1:{served.port}"])
    assert reply.status == 200


def test_tls_checks_the_certificate_for_the_name_at_the_pinned_address(tls_model_server, names, monkeypatch):
    """A real TLS handshake with 127.0.0.1: SNI and the certificate check use the name, so the
    certificate for models.lab.test is accepted there, and the same server under another name is not."""
    table, asked = names
    table["models.lab.test"] = [["127.0.0.1"]]
    table["other.lab.test"] = [["127.0.0.1"]]
    monkeypatch.setattr(egress, "tls_verify", ssl.create_default_context(cafile=str(tls_model_server.certificate)))
    port = tls_model_server.port
    reply = egress.send(
        "POST",
        f"https://models.lab.test:{port}/v1/chat/completions",
        [f"models.lab.test:{port}", "127.0.0.1"],
        json=BODY,
    )
    assert reply.status == 200 and b"echo" in reply.body
    assert tls_model_server.requests[-1]["headers"]["host"] == f"models.lab.test:{port}"
    with pytest.raises(RemoteError, match="(?i)could not reach.*certificate"):
        egress.send(
            "POST",
            f"https://other.lab.test:{port}/v1/chat/completions",
            [f"other.lab.test:{port}", "127.0.0.1"],
            json=BODY,
        )
    # the address itself is not the certificate's name either
    with pytest.raises(RemoteError, match="(?i)could not reach.*certificate"):
        egress.send("POST", f"https://127.0.0.1:{port}/v1/chat/completions", [f"127.0.0.1:{port}"], json=BODY)
    assert asked == ["models.lab.test", "other.lab.test"]


def test_the_next_checked_address_is_tried_only_when_no_connection_was_made(served, names):
    table, asked = names
    table["two.lab.test"] = [["127.0.0.2", "127.0.0.1"]]  # nothing listens on 127.0.0.2
    url = f"http://two.lab.test:{served.port}/v1/chat/completions"
    reply = post(url, [f"two.lab.test:{served.port}", "127.0.0.1", "127.0.0.2"])
    assert reply.status == 200 and len(served.requests) == 1 and asked == ["two.lab.test"]
    table["none.lab.test"] = [["127.0.0.2", "127.0.0.3"]]
    with pytest.raises(RemoteError, match="127.0.0.2: .*; 127.0.0.3: "):
        post(f"http://none.lab.test:{served.port}/v1", [f"none.lab.test:{served.port}", "127.0.0.2", "127.0.0.3"])
