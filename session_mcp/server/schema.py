"""Compact JSON schemas for tool listings: what a host shows the model and checks every result against.

Pydantic's schemas are correct but verbose: ``$defs`` and ``$ref`` indirection, a generated
``title`` on every property, and ``anyOf [X, null]`` with ``default: null`` for every optional
field. This server never sends nulls (optional fields are left out), so an optional field is
simply not required. The compact form is about half the size and half the work to validate.

Input schemas go one step further (``input_schema``), so that every model provider takes them
unchanged: no ``additionalProperties`` anywhere (OpenAI's strict mode refuses an open object,
Gemini's converter crashes on a boolean one; the server refuses unknown arguments by name), and
``null`` allowed for every optional argument (a strict-mode model fills every field, with null
for the ones it does not mean to give), written as an ``anyOf`` with ``null``. A default of ``""``
is left out: ``""`` means "not given" for every argument (the conventions of ``arguments.py``), so
saying it again in each of some fifty arguments would only cost every conversation its bytes.
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


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The advertised ``inputSchema`` of a tool whose arguments model has the JSON schema ``schema``.

    Raises ``ValueError`` for a free-form object argument (a map or an open object): declare its
    properties, or take it as ``"key=value"`` strings or as JSON text (``server.arguments``).
    """
    compact = compact_schema(schema)
    if isinstance(compact.get("additionalProperties"), bool):
        del compact["additionalProperties"]  # the root: unknown arguments are refused by the server
    required = set(compact.get("required", []))
    properties: dict[str, Any] = compact.get("properties", {})
    for name, prop in properties.items():
        _close_objects(prop, name)
        if prop.get("default") == "":
            del prop["default"]
        if name not in required:
            properties[name] = nullable(prop)
    return compact


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts ``null``: ``{"anyOf": [schema, {"type": "null"}]}``.

    The one spelling every converter measured keeps (tests/test_providers.py): a ``type`` list
    such as ``["array", "null"]`` becomes STRING in langchain-google-genai, and google-genai keeps
    only the non-null branch of an ``anyOf``, so the description goes inside it (the default
    stays outside, where google-genai carries it over).
    """
    if "anyOf" in schema:
        options = schema["anyOf"]
        return schema if NULL in options else {**schema, "anyOf": [*options, NULL]}
    kind = schema.get("type")
    if kind is None or kind == "null" or (isinstance(kind, list) and "null" in kind):
        return schema  # accepts null already
    outer = {"default": schema["default"]} if "default" in schema else {}
    return {"anyOf": [{k: v for k, v in schema.items() if k != "default"}, NULL], **outer}


def _close_objects(node: Any, path: str) -> None:
    """Drop boolean ``additionalProperties`` in place; refuse objects without declared properties."""
    if isinstance(node, list):
        for item in node:
            _close_objects(item, path)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("additionalProperties"), bool):
        del node["additionalProperties"]
    if "additionalProperties" in node or (node.get("type") == "object" and not node.get("properties")):
        raise ValueError(f"{path} is a free-form object: no model provider takes it unchanged")
    for key, value in node.items():
        if key == "properties":
            for name, sub in value.items():
                _close_objects(sub, f"{path}.{name}")
        else:
            _close_objects(value, path)
