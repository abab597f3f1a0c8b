"""JSON Schema for every frame, as served by the hub at ``/protocol/schema.json``."""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.messages import ClientFrame, ServerFrame

__all__ = ["json_schema"]


def json_schema() -> dict[str, Any]:
    """One document: ``client`` and ``server`` frame unions with shared ``$defs``."""
    (client, server), defs = msgspec.json.schema_components([ClientFrame, ServerFrame], ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dispatch.v1",
        "oneOf": [{"$ref": "#/$defs/ClientFrame"}, {"$ref": "#/$defs/ServerFrame"}],
        "$defs": {**defs, "ClientFrame": client, "ServerFrame": server},
    }
