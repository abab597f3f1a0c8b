"""The dispatch domain: incidents, units, resources, the radio log, officer-safety alarms,
timers, the command router, places, 311 referrals, EIDO, and the board's read API. ``rules/``
holds its rules as pure functions.

It may import ``protocol``, ``server.agency``, ``server.bus``, ``server.access``,
``server.records``, ``server.intake`` (the lane's types, for referrals), ``server.http``'s
declarations and the app context; never ``server.cases`` (and ``cases`` never imports it).
"""
