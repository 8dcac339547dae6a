"""Alembic environment: runs on the connection handed over by session_cli.registry.migrate."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table="alembic_version",
    version_table_schema="registry",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
