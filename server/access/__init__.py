"""Access control: who someone is, and what each role may do.

- ``roles``: roles, scopes and the principal a token names;
- ``permissions``: the one permission table (commands, topics, HTTP routes, pages, grants),
  rendered for people as docs/permissions.md;
- ``tokens``: signing tokens, and revoking them on every hub;
- ``principals``: who a request is from; ``second_factor``: one-time codes.

It imports ``protocol`` and the app context (``server.context``), and no domain package; it
reaches the accounts in the records store only through the ``AccountRecords`` protocol, and
``server.records`` imports it.
"""
