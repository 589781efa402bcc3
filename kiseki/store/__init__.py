"""The storage engine: schema, migrations, record application and queries (SQLite or PostgreSQL)."""
