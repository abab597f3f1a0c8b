"""The office, over HTTP: the directory of agencies and business areas (``directory``), emailed
information requests routed by the directory's keywords (``info_requests``), and investigations
opened from incidents (``investigations``). Their SQL lives in ``server.records.office``.

It may import ``protocol``, ``server.access``, ``server.records``, ``server.http``'s declarations
and the app context; ``investigations`` reads incidents through the dispatch service.
"""
