"""Compact JSON schemas for tool listings: what a host shows the model and checks every result against.

Pydantic's schemas are correct but verbose: ``$defs`` and ``$ref`` indirection, a generated
``title`` on every property, and ``anyOf [X, null]`` with ``default: null`` for every optional
field. This server never sends nulls (optional fields are left out), so an optional field is
simply not required. The compact form is about half the size and half the work to validate.
"""

from __future__ import annotations

from typing import Any

NULL = {"type": "null"}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``$ref`` inlined, generated titles dropped and nullable unions collapsed."""
    definitions: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = definitions[node["$ref"].rsplit("/", 1)[-1]]
            return walk({**target, **{k: v for k, v in node.items() if k != "$ref"}})
        compact = {}
        for key, value in node.items():
            if key in ("$defs", "title"):
                continue
            # Under "properties" the keys are field names, never schema keywords: keep them all.
            compact[key] = {name: walk(sub) for name, sub in value.items()} if key == "properties" else walk(value)
        options = compact.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and NULL in options:
            (kept,) = [option for option in options if option != NULL]
            del compact["anyOf"]
            compact = {**compact, **kept}
        if "default" in compact and compact["default"] is None:
            del compact["default"]
        return compact

    result: dict[str, Any] = walk(schema)
    return result
