"""The arrival lane: what the public and 311 send, taken in without ever holding dispatch up.

The doors (``open311`` for 311 referrals, ``complaint_door`` for the public complaint portal and
staff entry) validate what they are given and append it to an intake stream in Redis (``lane``,
with per-address limits in ``doors``); workers in a consumer group (``worker``, run as niced
processes beside the hub, ``python -m server.intake``) file each entry into the records store
exactly once, through the filers of the domains it belongs to. What cannot be filed goes to the
dead-letter list (``deadletters``); files sent with a complaint are kept by ``attachments``.

It may import ``protocol``, ``server.agency``, ``server.bus``, ``server.access``,
``server.records``, ``server.http``'s declarations, the app context, and the domains whose
filers it runs (``server.dispatch`` for referrals, ``server.cases`` for complaints); neither
domain imports it back for anything but the lane's types (entries, failures, attachment
references).
"""
