"""Complaint case management: filing a complaint into a case file, its status codes and its
legislated clocks; the home of the case workspace, letters, reports and access requests.

It may import ``protocol``, ``server.agency``, ``server.bus``, ``server.access``, ``server.records``,
``server.intake`` (the lane it files from; the portal's door is there), ``server.http``'s
declarations and the app context (``server.context``); never ``server.dispatch`` (evidence
from dispatch reaches a case file through ``records`` reads).
"""
