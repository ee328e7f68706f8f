"""Over Streamable HTTP with per-request keys, completions offer each tenant its own companion and
agent ids only, bounded by the protocol's 100 values and filtered by prefix."""

from __future__ import annotations

import anyio
import pytest
from mcp.types import PromptReference

from session_mcp.simulator import Simulator
from tests.helpers import serve_mcp
from tests.protocol.test_http import http_client

pytestmark = pytest.mark.anyio

KEYS = ("demo", "other-tenant-key")
PROMPT = PromptReference(type="ref/prompt", name="summarize_sessions")


async def test_each_key_is_offered_only_its_own_companions_and_agents(simulator: Simulator, base_url: str) -> None:
    simulator.projects["other-tenant-key"].companions += [
        {"id": f"comp_other_{i:03d}", "name": f"Other {i}"} for i in range(150)
    ]
    simulator.projects["other-tenant-key"].agents = [{"id": "agent_other", "companionId": "comp_other_000"}]
    offered: dict[str, dict[str, list[str]]] = {}

    async def complete(url: str, key: str) -> None:
        async with http_client(url, **{"X-Napster-Api-Key": key}) as client:
            answers = {}
            for name, prefix in (("companion_id", "comp_"), ("companion_id", "comp_s"), ("agent_id", "")):
                completion = (await client.complete(PROMPT, {"name": name, "value": prefix})).completion
                assert len(completion.values) <= 100
                answers[f"{name}={prefix}"] = completion.values
                if key != "demo" and prefix == "comp_":
                    assert completion.total == 155 and completion.has_more
            offered[key] = answers

    with serve_mcp(base_url, api_key=None) as url:
        async with anyio.create_task_group() as group:
            for key in KEYS:
                group.start_soon(complete, url, key)
    demo, other = offered["demo"], offered["other-tenant-key"]
    assert demo["companion_id=comp_"] == ["comp_booking", "comp_concierge", "comp_sales", "comp_support", "comp_tutor"]
    assert not any(value.startswith("comp_other") for values in demo.values() for value in values)
    assert demo["agent_id="] == ["agent_booking", "agent_sales", "agent_support", "agent_tutor"]
    assert other["agent_id="] == ["agent_other"]
    assert other["companion_id=comp_s"] == ["comp_sales", "comp_support"]
    assert len(other["companion_id=comp_"]) == 100
    # every upstream request carried the key of the tenant that made it, and each read its directory once
    reads = [(r.api_key, r.raw_path) for r in simulator.requests if r.raw_path == "/public/companions"]
    assert sorted(reads) == [("demo", "/public/companions"), *[("other-tenant-key", "/public/companions")] * 2]
