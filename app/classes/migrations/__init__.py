"""Alembic's scripts for the class database, applied at start-up (app.classes.store)."""
