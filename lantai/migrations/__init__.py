"""Alembic migrations of the state database (see lantai/database.py)."""
