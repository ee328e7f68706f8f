"""The one template of the QA report: a self-contained page whose script draws everything from data.

The page (``assets/report.html``) holds the report as a JSON blob (``<script
type="application/json" id="qa-data">``) and ``assets/report.js``, which defines
``renderQAReport(root, report)``: the counts per check, the findings-per-day chart (SVG built by
the script), and every flagged session with its evidence, anchored at ``#session-<id>``; and
``stackedDays(rows, keys, label, width)``, the per-day chart itself, which the MCP dashboard also
draws its sessions per day with. Nothing is fetched: no network, no external font, style or
script. The MCP dashboard view (``session_mcp.views``) serves the same style and script
(``view_style()``, ``view_script()``) unchanged and calls ``renderQAReport`` with the
``structuredContent`` of ``review_sessions`` instead of the embedded blob. The assets are read on
first use, not at import, so a server that never draws a report never reads them.

All text reaches the page through ``textContent``, never as markup, so a transcript cannot
inject HTML; the blob escapes ``<``, ``>`` and ``&`` so it cannot close its script element.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def view_style() -> str:
    """The report's CSS (``assets/report.css``)."""
    return _asset("report.css")


@cache
def view_script() -> str:
    """The report's script (``assets/report.js``): ``renderQAReport`` and ``stackedDays``."""
    return _asset("report.js")


@cache
def _page() -> str:
    """The page around them (``assets/report.html``), a ``str.format`` template."""
    return _asset("report.html")


def _asset(name: str) -> str:
    return files("session_mcp.qa").joinpath("assets", name).read_text(encoding="utf-8")


def embed_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: it cannot close it or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def render_page(data: Any, title: str) -> str:
    """The self-contained HTML page of a report (``data`` is the report as JSON-ready values)."""
    return _page().format(title=html.escape(title), style=view_style(), data=embed_json(data), script=view_script())
