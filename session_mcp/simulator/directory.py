"""The demo project's directory: ``GET /public/companions`` and ``GET /public/agents`` as the simulator serves them.

The companions are those of the demo sessions (``data.COMPANIONS``), plus one custom persona
still being generated, with no session yet and named only by first and last name; the agents are
``data.AGENTS``, one per companion, each deployed on its channels.
"""

from __future__ import annotations

from typing import Any

from session_mcp.simulator.data import AGENTS, COMPANIONS

# The channels each agent is deployed on (GET /public/agents), in the order of COMPANIONS.
AGENT_CHANNELS = (("webrtc", "websocket", "sip"), ("voip", "sip"), ("webrtc",), ("webrtc", "websocket"))
COMPANION_STATUS = "completed"  # a persona whose avatar is generated and that can be edited


def companion_rows() -> list[dict[str, Any]]:
    """``GET /public/companions`` of a demo project: the companions of its sessions, and one custom
    persona still being generated (no session yet, named only by first and last name)."""
    rows: list[dict[str, Any]] = [
        {
            "id": c.id,
            "name": c.name,
            "headline": c.name.partition("(")[2].rstrip(")").capitalize(),
            "status": COMPANION_STATUS,
            "tags": {"team": c.id.removeprefix("comp_")},
        }
        for c in COMPANIONS
    ]
    rows.append({"id": "comp_concierge", "firstName": "Noor", "lastName": "Haddad", "status": "pending", "tags": {}})
    return rows


def agent_rows() -> list[dict[str, Any]]:
    """``GET /public/agents`` of a demo project: one agent per companion of its sessions."""
    return [
        {
            "id": agent_id,
            "name": f"{c.name.split()[0]} agent",
            "companionId": c.id,
            "voiceId": "alloy",
            "language": "English",
            "channels": [{"channelType": channel} for channel in channels],
        }
        for (agent_id, c), channels in zip(AGENTS.items(), AGENT_CHANNELS, strict=True)
    ]
