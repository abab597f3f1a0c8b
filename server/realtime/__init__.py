"""The real-time core: the hub of one process (bus reader, fan-out, subscriptions and catch-up,
the positions ticker), WebSocket sessions with their bounded outbox and writer, whole frames
written straight to the socket, the bounded HTTP/1.1 protocol, connection admission and rate
limits.

It knows no domain: commands reach a handler it is given, events are bytes on topics. It may
import ``protocol``, ``server.bus``, ``server.access`` and the process modules (config, metrics),
never ``dispatch``, ``cases``, ``intake``, ``office``, ``records`` or ``http``.
"""
