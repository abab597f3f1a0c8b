"""The dispatch domain: incidents, units, resources, the radio log, officer-safety alarms,
timers, the command router, places, 311 referrals, EIDO, and the board's read API. ``rules/``
holds its rules as pure functions.

It may import ``protocol``, ``server.agency``, ``server.bus``, ``server.access``, ``server.records`` and
``server.http``'s declarations; never ``server.cases`` (and ``cases`` never imports it).
"""
