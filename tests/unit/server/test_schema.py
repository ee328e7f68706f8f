"""compact_schema keeps what a schema accepts while dropping pydantic's verbosity."""

from __future__ import annotations

import jsonschema
from pydantic import BaseModel, Field

from session_mcp.render.page import SessionPageResult
from session_mcp.render.transcript import TranscriptResult
from session_mcp.server.schema import compact_schema


class Inner(BaseModel):
    title: str  # a field named like a schema keyword must survive
    note: str | None = None


class Outer(BaseModel):
    items: list[Inner]
    count: int | None = Field(None, description="kept")


def test_refs_inlined_titles_dropped_nulls_collapsed() -> None:
    compact = compact_schema(Outer.model_json_schema())
    assert "$defs" not in compact
    assert "title" not in compact
    item = compact["properties"]["items"]["items"]
    assert set(item["properties"]) == {"title", "note"}
    assert item["properties"]["note"] == {"type": "string"}
    assert item["required"] == ["title"]
    assert compact["properties"]["count"] == {"type": "integer", "description": "kept"}


def test_real_results_still_validate_and_shrink() -> None:
    for model in (SessionPageResult, TranscriptResult):
        full = model.model_json_schema()
        compact = compact_schema(full)
        assert len(str(compact)) < len(str(full)) * 0.7
        assert "$ref" not in str(compact)
    page = {"sessions": [{"id": "s", "status": "closed", "tags": {"a": "b"}}], "page_index": 0, "page_size": 20,
            "has_more": False}  # fmt: skip
    jsonschema.validate(page, compact_schema(SessionPageResult.model_json_schema()))
    bad = {**page, "sessions": [{"id": "s"}]}
    try:
        jsonschema.validate(bad, compact_schema(SessionPageResult.model_json_schema()))
    except jsonschema.ValidationError as exc:
        assert "status" in exc.message
    else:
        raise AssertionError("a row without its required status must not validate")
