"""Access control: who someone is, and what each role may do.

- ``roles``: roles, scopes and the principal a token names;
- ``permissions``: the one permission table (commands, topics, HTTP routes, pages, grants),
  rendered for people as docs/permissions.md;
- ``tokens``: signing tokens, and revoking them on every hub;
- ``principals``: who a request is from; ``second_factor``: one-time codes.

It may import ``protocol``, ``server.bus`` and ``server.records`` (accounts live there), and no
domain package.
"""
