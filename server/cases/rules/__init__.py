"""The rules of case management: pure functions and tables, no I/O."""
