"""Icons for the server and its tools: small SVGs inlined as ``data:`` URIs.

Inlined, so a host draws them without fetching anything from anywhere (no request leaves for an
icon, and none breaks offline). One icon per toolset: a host's tool picker groups what goes
together. Hosts never send icons to the model, so they cost no context.
"""

from __future__ import annotations

import base64

from mcp.types import Icon

STROKE = 'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#6d28d9" stroke-width="2"'
SHAPES = {
    "server": '<path d="M4 5h16v11H9l-5 4z"/><path d="M8 9h8M8 12h5"/>',  # a speech bubble
    "read": '<path d="M6 3h9l3 3v15H6z"/><path d="M9 10h6M9 14h6M9 18h4"/>',  # a page of lines
    "search": '<circle cx="10" cy="10" r="6"/><path d="M15 15l6 6"/>',  # a magnifier
    "qa": '<path d="M12 3l8 3v6c0 5-4 8-8 9-4-1-8-4-8-9V6z"/><path d="M8 12l3 3 5-6"/>',  # a checked shield
    "connect": '<path d="M9 7V3M15 7V3M6 7h12v5a6 6 0 0 1-12 0zM12 18v3"/>',  # a plug
    "directory": '<circle cx="9" cy="8" r="3"/><path d="M3 20c0-4 3-6 6-6s6 2 6 6M16 5h5M16 9h5M18 13h3"/>',
}


def icon(name: str) -> Icon:
    """The icon called ``name`` (``server`` or a toolset's name)."""
    svg = f"<svg {STROKE}>{SHAPES[name]}</svg>"
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return Icon(src=source, mime_type="image/svg+xml", sizes=["any"])
