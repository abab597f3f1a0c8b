"""The office: the directory of agencies and business areas, emailed information requests, and
investigations, over HTTP. Its SQL lives in ``server.records.office``.
"""
