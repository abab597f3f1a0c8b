"""The dispatch hub: Starlette app, Redis bus and state, records store."""
