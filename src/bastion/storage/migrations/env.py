"""Alembic environment: runs on the connection ``storage.migrate`` hands over."""

from alembic import context

from bastion.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via bastion.storage.migrate
    raise RuntimeError("run migrations through `bastion init` (bastion.storage.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
