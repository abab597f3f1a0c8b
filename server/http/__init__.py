"""HTTP around the hub: every endpoint declared once (endpoints), bounded bodies and queries
(inputs), request guards, sign-in, accounts, health and metrics for operators, and the browser
clients' pages, with one error-body shape.

Domain packages import ``endpoints`` and ``inputs`` to declare their routes; nothing here is
imported by ``realtime`` or ``bus``. It may import ``protocol``, ``server.agency``,
``server.access``, ``server.records``, ``server.realtime``, ``server.intake`` (the doors' limits)
and the app context.
"""
