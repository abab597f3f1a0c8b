"""The records store (SQLite): users, audit trail, archived events."""
