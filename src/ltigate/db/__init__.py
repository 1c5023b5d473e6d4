"""The storage adapter: SQLAlchemy Core tables, Alembic migrations, and the stores behind the service ports."""
