"""``free_port()`` (benchmarks/servers.py): under pytest-xdist each worker takes ports from a block of its own,
so two workers never pick the same one; a program a worker starts, and any run without workers, binds port 0."""

from __future__ import annotations

import socket
import sys
import types

import pytest
from benchmarks import servers


@pytest.fixture
def as_worker(monkeypatch):
    def become(name: str) -> None:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", name)
        monkeypatch.setitem(sys.modules, "xdist", sys.modules.get("xdist") or types.ModuleType("xdist"))
        monkeypatch.setattr(servers, "_next_port", [])

    return become


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_each_worker_picks_free_ports_from_its_own_block(as_worker):
    picked = {}
    for worker, first in (("gw0", 12000), ("gw1", 13000), ("gw7", 19000)):
        as_worker(worker)
        ports = [servers.free_port() for _ in range(5)]
        assert all(first <= port < first + 1000 for port in ports), (worker, ports)
        assert len(set(ports)) == 5, ports  # never the same port twice in a row, even once it is free again
        assert all(_bindable(port) for port in ports)
        picked[worker] = set(ports)
    assert not picked["gw0"] & picked["gw1"]


def test_a_port_in_use_is_passed_over(as_worker):
    as_worker("gw2")
    servers.free_port()
    candidate = servers._next_port[0]  # the next one it would try
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", candidate))
            taken.listen()
        except OSError:
            pass  # something here holds it already: in use either way
        port = servers.free_port()
    assert 14000 <= port < 15000 and port != candidate


def _kernel_range() -> tuple[int, int]:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = map(int, f.read().split())
    return low, high


def test_outside_a_worker_the_kernel_picks(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    port = servers.free_port()
    low, high = _kernel_range()
    assert low <= port <= high and _bindable(port)


def test_a_program_a_worker_starts_binds_port_0(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")  # inherited, but that program has no xdist
    monkeypatch.delitem(sys.modules, "xdist", raising=False)
    low, high = _kernel_range()
    assert low <= servers.free_port() <= high
