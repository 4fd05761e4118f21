"""The workspace secret: keys variant slots and canary facts (leak tracing).

Each workspace has one 32-byte secret, derived (HMAC-SHA256, domain-separated)
from a data key of its own in the keyring: a key bound to no project, whose id
is derived from the workspace id. So:

* every server process finds the same key, and two processes racing to make it
  have one winner (the key id is the primary key of ``data_keys``);
* it is wrapped by the key provider like every data key: rotating the master
  key re-wraps it; deleting the workspace destroys it with the others
  (crypto-shredding) — nothing shown before can be attributed afterwards;
* it never leaves the server: no API, page or export returns it, and
  annotators never touch anything derived from it other than the variant
  they are shown.

Trap: never derive it from a project's key. Deleting or re-keying one project
would change the secret of the whole workspace, and every variant already shown
would stop tracing back to its recipient.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from .keyring import KeyDestroyed, Keyring, data_keys

SECRET_BYTES = 32
_DERIVE = b"bastion/workspace-secret/v1"


def workspace_key_id(workspace_id: str) -> str:
    """The id of the workspace's own key: fixed by the workspace id, 16 bytes like every key id."""
    return "key_" + hashlib.sha256(b"bastion/workspace-key/v1|" + workspace_id.encode()).digest()[:16].hex()


def workspace_secret(keyring: Keyring, workspace_id: str) -> bytes:
    """The workspace's secret (made on first use)."""
    key_id = workspace_key_id(workspace_id)
    try:
        material = keyring.material(workspace_id, key_id)
    except KeyDestroyed:
        _create(keyring, workspace_id, key_id)
        material = keyring.material(workspace_id, key_id)
    return hmac.new(material.index_key, _DERIVE + b"|" + workspace_id.encode(), hashlib.sha256).digest()


def workspace_key(keyring: Keyring, workspace_id: str) -> str:
    """The id of the workspace's own data key (made on first use): what seals workspace-level secrets,
    such as model endpoints' API keys (services/model_endpoints.py)."""
    key_id = workspace_key_id(workspace_id)
    try:
        keyring.material(workspace_id, key_id)
    except KeyDestroyed:
        _create(keyring, workspace_id, key_id)
    return key_id


def _create(keyring: Keyring, workspace_id: str, key_id: str) -> None:
    row = keyring.new_key_row(workspace_id, None, key_id)  # wrapped by the workspace's key (its client's, if bound)
    try:
        with keyring.engine.begin() as conn:
            conn.execute(insert(data_keys).values(row))
    except IntegrityError:
        pass  # another process made it first: theirs is the one
