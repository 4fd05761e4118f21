"""scim2-tester's checks against Bastion serving on 127.0.0.1: every check must pass.

scim2-tester discovers what Bastion publishes (/ServiceProviderConfig, /ResourceTypes, /Schemas),
then creates, reads, lists, searches, replaces, patches (add, replace, remove, attribute by
attribute) and deletes Users and Groups with random values, and probes wrong methods and paths.

One adjustment, and why: scim2-tester fills ``userName`` with a random UUID, since nothing in a SCIM
schema can say that an attribute holds an e-mail address. Bastion's ``userName`` *is* the person's
e-mail (a UUID is refused with 400 invalidValue), so every check that creates a User would fail
for that reason alone. The test makes the tester's value generator give ``userName`` a random
e-mail address of the very shape it already gives ``emails.value`` (``<uuid>@<uuid>.com``); every
other value, and every check, is the tester's own. Nothing is filtered out.
"""

from __future__ import annotations

import uuid

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from bastion.services import scim
from factories import system
from live_server import serving


@pytest.fixture
def db_kind():
    return "sqlite"  # tests/api/test_scim.py runs the same endpoints on PostgreSQL as the app role


@pytest.fixture
def live_server(rt):
    with serving(rt) as url:
        yield url


@pytest.fixture
def e_mail_user_names(monkeypatch):
    """userName values shaped as e-mail addresses (see the module docstring)."""
    from scim2_tester import filling
    from scim2_tester.checkers import patch_add, patch_remove, patch_replace

    original = filling.generate_random_value

    def generate(context, path, mutability=None, required=None):
        value = original(context, path, mutability=mutability, required=required)
        if isinstance(value, str) and str(path).rsplit(":", 1)[-1] == "userName":
            return f"{uuid.uuid4()}@{uuid.uuid4()}.com"
        return value

    for module in (filling, patch_add, patch_remove, patch_replace):
        if getattr(module, "generate_random_value", None) is original:
            monkeypatch.setattr(module, "generate_random_value", generate)


def test_every_scim2_tester_check_passes(rt, live_server, e_mail_user_names):
    secret, _ = scim.create_token(system(rt), "scim2-tester")
    http = httpx2.Client(base_url=f"{live_server}/scim/v2", headers={"Authorization": f"Bearer {secret}"})
    with http:
        results = check_server(SyncSCIMClient(http), raise_exceptions=False)
    passed = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
    failing = [r for r in results if r.status not in passed | {Status.SKIPPED}]
    assert not failing, "\n".join(f"{r.status.name} {r.resource_type} {r.title}: {r.reason}" for r in failing)
    ran = [r for r in results if r.status in passed]
    assert len(ran) >= 60, [f"{r.status.name} {r.title}: {r.reason}" for r in results]
    titles = {r.title for r in ran}
    for check in ("object_creation", "object_replacement", "object_deletion", "check_replace_attribute", "random_url"):
        assert check in titles, (check, sorted(titles))
    skipped = [r for r in results if r.status is Status.SKIPPED]
    assert not skipped, [f"{r.title}: {r.reason}" for r in skipped]
