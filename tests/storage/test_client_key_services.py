"""The client key providers against key services on 127.0.0.1: Vault Transit and Cloud KMS
(small fake servers, tests/clientkey_support.py) and AWS KMS (moto's server).

Each: what is sent (paths, headers, base64 fields, the context bound), a round trip,
the context binding (a wrapped key moved to another key id does not unwrap), and the
service's refusals told apart — revoked/refused, destroyed, unreachable.
"""

from __future__ import annotations

import base64

import pytest

from bastion.domain.errors import InvalidConfig
from bastion.storage.clientkeys import KeyUnavailable, make_client_provider
from blob_support import require_moto
from clientkey_support import FakeCloudKms, FakeVault, closed_port_url

KEY = bytes(range(32))
CTX = b"key_00112233445566778899aabbccddeeff"
OTHER = b"key_ffeeddccbbaa99887766554433221100"


@pytest.fixture
def vault(monkeypatch):
    server = FakeVault(token="s.client-token")
    server.create_key("bastion-ws")
    monkeypatch.setenv("TEST_VAULT_TOKEN", "s.client-token")
    yield server
    server.close()


@pytest.fixture
def kms(monkeypatch):
    server = FakeCloudKms(token="ya29.client-token")
    monkeypatch.setenv("TEST_GCP_TOKEN", "ya29.client-token")
    yield server
    server.close()


def _reason(call) -> str:
    with pytest.raises(KeyUnavailable) as caught:
        call()
    assert caught.value.code == "key_unavailable"
    return caught.value.reason


def test_vault_transit_requests_round_trip_and_refusals(vault, monkeypatch):
    config = {"address": vault.url, "key": "bastion-ws", "token_env": "TEST_VAULT_TOKEN", "namespace": "client-a"}
    provider = make_client_provider("vault-transit", config)
    wrapped = provider.wrap(KEY, CTX)
    sent = vault.seen[-1]
    assert sent.path == "/v1/transit/encrypt/bastion-ws"
    assert sent.headers["x-vault-token"] == "s.client-token" and sent.headers["x-vault-namespace"] == "client-a"
    framed = base64.b64decode(sent.body["plaintext"])
    assert framed == len(CTX).to_bytes(2, "big") + CTX + KEY  # the context travels inside the wrapped value
    assert provider.unwrap(wrapped, CTX) == KEY
    assert vault.seen[-1].path == "/v1/transit/decrypt/bastion-ws"
    assert vault.seen[-1].body == {"ciphertext": wrapped[1:].decode()}
    assert wrapped[1:].startswith(b"vault:v1:")
    # Moved onto another data key: refused, never the key.
    assert _reason(lambda: provider.unwrap(wrapped, OTHER)) == "refused"
    # Tampered with: Vault's AEAD refuses.
    tampered = wrapped[:-6] + (b"AAAAAA" if not wrapped.endswith(b"AAAAAA") else b"BBBBBB")
    assert _reason(lambda: provider.unwrap(tampered, CTX)) == "refused"
    # The client revokes the token: 403.
    monkeypatch.setenv("TEST_VAULT_TOKEN", "s.revoked")
    assert _reason(lambda: provider.unwrap(wrapped, CTX)) == "refused"
    monkeypatch.setenv("TEST_VAULT_TOKEN", "s.client-token")
    # Sealed: unavailable for now, not gone.
    vault.sealed = True
    assert _reason(lambda: provider.unwrap(wrapped, CTX)) == "unreachable"
    vault.sealed = False
    assert provider.unwrap(wrapped, CTX) == KEY
    # The client deletes the key: Transit answers 400 "encryption key not found".
    del vault.keys["bastion-ws"]
    with pytest.raises(KeyUnavailable, match="destroyed.*encryption key not found.*unreadable for good"):
        provider.unwrap(wrapped, CTX)
    # Nobody listening: unreachable, and the message says so.
    gone = make_client_provider("vault-transit", {**config, "address": closed_port_url()})
    with pytest.raises(KeyUnavailable, match="unreachable.*nothing was written") as caught:
        gone.unwrap(wrapped, CTX)
    assert caught.value.details == {"provider": "vault-transit", "reason": "unreachable"}


def test_vault_token_from_a_file_and_a_missing_variable(vault, tmp_path, monkeypatch):
    token_file = tmp_path / "vault-token"
    token_file.write_text("s.client-token\n")
    provider = make_client_provider(
        "vault-transit", {"address": vault.url, "key": "bastion-ws", "mount": "transit", "token_file": str(token_file)}
    )
    assert provider.unwrap(provider.wrap(KEY, CTX), CTX) == KEY
    monkeypatch.delenv("TEST_VAULT_TOKEN")
    unset = make_client_provider("vault-transit", {"address": vault.url, "key": "k", "token_env": "TEST_VAULT_TOKEN"})
    with pytest.raises(KeyUnavailable, match="TEST_VAULT_TOKEN is not set"):
        unset.wrap(KEY, CTX)


def test_cloud_kms_requests_round_trip_and_refusals(kms, monkeypatch):
    name = kms.create_key("ws-key")
    provider = make_client_provider("gcp-kms", {"key": name, "endpoint": kms.url, "token_env": "TEST_GCP_TOKEN"})
    wrapped = provider.wrap(KEY, CTX)
    sent = kms.seen[-1]
    assert sent.path == f"/v1/{name}:encrypt"
    assert sent.headers["authorization"] == "Bearer ya29.client-token"
    assert base64.b64decode(sent.body["plaintext"]) == KEY
    assert base64.b64decode(sent.body["additionalAuthenticatedData"]) == b"bastion-dk\x00" + CTX
    assert provider.unwrap(wrapped, CTX) == KEY
    assert kms.seen[-1].path == f"/v1/{name}:decrypt"
    assert set(kms.seen[-1].body) == {"ciphertext", "additionalAuthenticatedData"}
    # The context is the associated data: another data key id does not decrypt.
    assert _reason(lambda: provider.unwrap(wrapped, OTHER)) == "refused"
    # IAM binding removed: 403.
    monkeypatch.setenv("TEST_GCP_TOKEN", "ya29.other")
    assert _reason(lambda: provider.unwrap(wrapped, CTX)) == "refused"
    monkeypatch.setenv("TEST_GCP_TOKEN", "ya29.client-token")
    # Disabled (may come back) vs destroyed (gone for good).
    kms.state[name] = "DISABLED"
    with pytest.raises(KeyUnavailable, match="refused the key.*DISABLED.*restores access"):
        provider.unwrap(wrapped, CTX)
    kms.state[name] = "DESTROYED"
    assert _reason(lambda: provider.unwrap(wrapped, CTX)) == "destroyed"
    kms.state[name] = "DESTROY_SCHEDULED"
    assert _reason(lambda: provider.unwrap(wrapped, CTX)) == "destroyed"
    kms.state[name] = "ENABLED"
    assert provider.unwrap(wrapped, CTX) == KEY
    del kms.keys[name]
    assert _reason(lambda: provider.unwrap(wrapped, CTX)) == "destroyed"  # 404
    gone = make_client_provider("gcp-kms", {"key": name, "endpoint": closed_port_url(), "token_env": "TEST_GCP_TOKEN"})
    assert _reason(lambda: gone.unwrap(wrapped, CTX)) == "unreachable"


@pytest.mark.parametrize(
    ("provider", "config", "message"),
    [
        ("vault-transit", {"key": "k", "token_env": "T"}, "config.address: required"),
        ("vault-transit", {"address": "ftp://x", "key": "k", "token_env": "T"}, "config.address: must be an http"),
        (
            "vault-transit",
            {"address": "http://127.0.0.1:1", "key": "k", "token": "s.x"},
            "config.token: secrets are never stored",
        ),
        ("vault-transit", {"address": "http://127.0.0.1:1", "key": "k"}, "config.token_env: give exactly one"),
        ("gcp-kms", {"key": "projects/p/keyRings/r", "token_env": "T"}, "config.key: must be projects/P/locations/L"),
        ("gcp-kms", {"key": "", "token_env": "T"}, "config.key: must be a non-empty string"),
        ("aws-kms", {"key_id": "k", "colour": "blue"}, "config.colour: unknown field for the aws-kms key provider"),
        ("pkcs11", {"module": "/x.so", "token_label": "t", "key_label": "k", "pin": "1234"}, "config.pin: secrets"),
        ("pkcs11", {"module": "/x.so", "token_label": "t", "pin_env": "P"}, "config.key_label: required"),
        ("nope", {}, "provider: no client key provider named 'nope'"),
    ],
)
def test_bad_configs_name_the_field(provider, config, message):
    with pytest.raises(InvalidConfig, match=message.replace(".", r"\.").replace("(", r"\(")):
        make_client_provider(provider, config)


def test_aws_kms_against_moto(monkeypatch):
    require_moto()
    import boto3
    from moto.server import ThreadedMotoServer

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "client"),
        ("AWS_SECRET_ACCESS_KEY", "client"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
    ):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("kms", endpoint_url=endpoint, region_name="eu-west-1")
        key_id = client.create_key(Description="client key")["KeyMetadata"]["KeyId"]
        provider = make_client_provider("aws-kms", {"key_id": key_id, "region": "eu-west-1", "endpoint_url": endpoint})
        wrapped = provider.wrap(KEY, CTX)
        assert provider.unwrap(wrapped, CTX) == KEY
        # The EncryptionContext binds the data key's id.
        assert _reason(lambda: provider.unwrap(wrapped, OTHER)) == "refused"
        client.disable_key(KeyId=key_id)
        with pytest.raises(KeyUnavailable, match=f"refused the key: key {key_id} is Disabled"):
            provider.unwrap(wrapped, CTX)
        client.enable_key(KeyId=key_id)
        assert provider.unwrap(wrapped, CTX) == KEY
        client.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        with pytest.raises(KeyUnavailable, match="destroyed: key .* is scheduled for deletion"):
            provider.unwrap(wrapped, CTX)
        missing = make_client_provider(
            "aws-kms",
            {"key_id": "11111111-2222-3333-4444-555555555555", "region": "eu-west-1", "endpoint_url": endpoint},
        )
        assert _reason(lambda: missing.wrap(KEY, CTX)) == "destroyed"
    finally:
        server.stop()
    unreachable = make_client_provider(
        "aws-kms", {"key_id": key_id, "region": "eu-west-1", "endpoint_url": closed_port_url()}
    )
    assert _reason(lambda: unreachable.unwrap(wrapped, CTX)) == "unreachable"


def test_a_deployment_key_provider_config_error_names_the_setting(tmp_path):
    from bastion.settings import Settings
    from bastion.storage.keyring import Keyring

    settings = Settings(
        data_dir=tmp_path / "data",
        key_provider="vault-transit",
        key_provider_config='{"address": "http://127.0.0.1:1"}',
    )
    with pytest.raises(InvalidConfig, match=r"BASTION_KEY_PROVIDER_CONFIG: config\.key: required"):
        Keyring.open(settings)


def test_keyring_bindings_across_processes_and_an_unusable_binding(vault, tmp_path):
    """Two keyrings on one database stand for two server processes."""
    from sqlalchemy import update

    from bastion.storage.keyproviders import FileKeyProvider
    from bastion.storage.keyring import Keyring, workspace_keks

    url = f"sqlite:///{tmp_path / 'keyring.db'}"
    here = Keyring(url, FileKeyProvider.from_hex("22" * 32), client_check_seconds=0)
    there = Keyring(url, FileKeyProvider.from_hex("22" * 32), client_check_seconds=0)
    bound, other = here.create_key("ws_bound", "prj_a"), here.create_key("ws_other", "prj_b")
    before = here.material("ws_bound", bound).index_key
    config = {"address": vault.url, "key": "bastion-ws", "token_env": "TEST_VAULT_TOKEN"}
    assert there.bind("ws_bound", "vault-transit", config) == 1
    # This process still holds the key from before; its next re-check finds the binding and asks the client.
    here.RECHECK_SECONDS = 0
    calls = len(vault.seen)
    assert here.material("ws_bound", bound).index_key == before
    assert here.material("ws_bound", bound).client == "vault-transit" and len(vault.seen) > calls
    assert here.material("ws_other", other).client is None
    # A key made now for the bound workspace is wrapped by the client's key, in either process.
    later = here.create_key("ws_bound", "prj_c")
    assert there.material("ws_bound", later).client == "vault-transit"
    del vault.keys["bastion-ws"]
    with pytest.raises(KeyUnavailable, match="destroyed"):
        here.material("ws_bound", bound)
    assert here.material("ws_other", other).client is None
    # A binding this server cannot use (a bad config): that workspace fails closed, the keyring still opens.
    with here.engine.begin() as conn:
        conn.execute(update(workspace_keks).values(config='{"address": "nowhere"}'))
    third = Keyring(url, FileKeyProvider.from_hex("22" * 32))
    with pytest.raises(KeyUnavailable, match="unreachable: this server cannot use it") as caught:
        third.material("ws_bound", bound)
    assert caught.value.reason == "unreachable"
    assert third.material("ws_other", other).client is None
    for keyring in (here, there, third):
        keyring.dispose()
