"""What an agency sets, read from files an operator edits: the policy (priorities, statuses, call
types, timers, 311 services, complaint settings), the service area and its districts, and the
gazetteer of common places. Shared by dispatch, intake and cases; pure apart from reading its
files, and it imports nothing of ours but ``protocol``.
"""
