"""Persistence: SQLAlchemy 2 asyncio models, the engine and Alembic migrations."""
