"""Alembic's environment: the connection comes from app.classes.store.migrate (there is
no alembic.ini; start-up applies the migrations itself)."""

from __future__ import annotations

from alembic import context

from app.classes.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
