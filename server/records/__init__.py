"""The system of record (SQLite): every SQL statement of the server lives in a store module here.

``store`` is the core (the connection and its one ``transaction()``, users, sessions, audit,
archived events and their projections, dead letters); ``complaints``, ``referrals``, ``intake`` and
``office`` are the domains' stores over it. It imports no domain.
"""
