"""Access control: roles, the permission table (commands, topics, HTTP routes, pages), signed
and revocable tokens, who a request is from, and second factors.

It may import ``protocol``, ``server.bus`` and ``server.records`` (accounts live there), and no
domain package.
"""
