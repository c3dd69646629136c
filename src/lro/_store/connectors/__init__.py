"""Connectors: what the SQL store needs of each database (SQLite, PostgreSQL)."""
