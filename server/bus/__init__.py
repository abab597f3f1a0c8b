"""Redis as the log: keys and topics, the one atomic step per command (plan and apply, in Lua),
history, snapshots and resume, consumer groups, and the embedded Valkey.

It knows no domain and imports only ``protocol`` and the process modules (config).
"""
