"""Row-level security on ``credentials`` (storage/rls.py, ``credential_policies``): a workspace's own rows
stay in its scope; deployment-wide rows are read by anyone and written by platform admins and the operator."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update

from bastion.services import credentials
from bastion.services.context import Unit
from bastion.storage import schema
from factories import as_user, make_side, make_user

CR = schema.credentials


@pytest.fixture
def db_kind():
    from environment import require_postgres

    require_postgres()
    return "postgresql"


def _row(user_id: str, workspace_id: str | None, tag: str) -> dict:
    return {
        "id": f"crd_{tag}",
        "user_id": user_id,
        "workspace_id": workspace_id,
        "kind": "nda",
        "name": tag,
        "issuer": "x",
        "created_at": 1,
    }


def test_a_workspace_sees_its_own_and_the_deployment_wide_credentials_only(rt):
    a, b = make_side(rt, "rca", 0), make_side(rt, "rcb", 0)
    own = credentials.add_credential(
        a.ctx(rt, "owner"), a.users["annotator"], kind="nda", name="A", issuer="A", workspace_id=a.workspace_id
    )
    foreign = credentials.add_credential(
        b.ctx(rt, "owner"), b.users["annotator"], kind="nda", name="B", issuer="B", workspace_id=b.workspace_id
    )
    admin = make_user(rt, "admin.rc@example.com", admin=True)
    everywhere = credentials.add_credential(
        as_user(rt, admin.id, is_admin=True),
        b.users["annotator"],
        kind="nda",
        name="All",
        issuer="X",
        workspace_id=None,
    )
    with rt.db.transaction() as tx:
        unit = Unit(tx, rt, as_user(rt, a.users["owner"]).actor)
        seen = set(unit.tx.execute(select(CR.c.id)).scalars())  # no filter: the policy alone decides
        assert seen == {own["id"], everywhere["id"]} and foreign["id"] not in seen
    # Writes outside the scope are refused by the policies' WITH CHECK / USING.
    for row in (_row(a.users["annotator"], b.workspace_id, "x1"), _row(a.users["annotator"], None, "x2")):
        with pytest.raises(Exception, match="row-level security"), rt.db.transaction() as tx:
            Unit(tx, rt, as_user(rt, a.users["owner"]).actor).tx.execute(insert(CR).values(**row))
    with rt.db.transaction() as tx:
        unit = Unit(tx, rt, as_user(rt, a.users["owner"]).actor)
        assert unit.tx.execute(update(CR).where(CR.c.id == everywhere["id"]).values(revoked_at=1)).rowcount == 0
        assert unit.tx.execute(update(CR).where(CR.c.id == foreign["id"]).values(revoked_at=1)).rowcount == 0
    # A platform admin reads and writes every row.
    with rt.db.transaction() as tx:
        unit = Unit(tx, rt, as_user(rt, admin.id, is_admin=True).actor)
        assert {own["id"], foreign["id"], everywhere["id"]} <= set(unit.tx.execute(select(CR.c.id)).scalars())
