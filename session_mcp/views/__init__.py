"""MCP Apps views: the ``ui://`` pages a host renders for tool results (``io.modelcontextprotocol/ui``).

Each view is one self-contained HTML page assembled from ``assets/`` (the dashboard also from the
QA report's template, ``session_mcp.qa.template``, whose review rendering and per-day chart it
reuses): its CSS and JavaScript inline, a Content-Security-Policy that admits exactly those two
blocks (by hash) and no network at all. The page speaks the extension's postMessage JSON-RPC
itself (``host.js``) and renders from the ``structuredContent`` of the result the host hands it.
Hosts without the extension never read these pages: a tool's text content is the same with or
without them. The MCP side (resources,
tool ``_meta``) is wired in ``session_mcp.server.views``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from session_mcp.qa.template import view_script, view_style

__all__ = ["DASHBOARD", "TRANSCRIPT", "VIEWS", "View", "view_html"]


@dataclass(frozen=True)
class View:
    """One view: its name (``ui://session-mcp/<name>.html``) and the scripts it is built from, in order."""

    name: str
    title: str
    description: str
    scripts: tuple[str, ...]
    qa_template: bool = False  # also the QA report's style and script (renderQAReport, stackedDays)

    @property
    def uri(self) -> str:
        return f"ui://session-mcp/{self.name}.html"


TRANSCRIPT = View(
    "transcript",
    "Session transcript",
    "A session's header and its turns as a timeline with QA findings marked, searchable.",
    ("dom.js", "host.js", "transcript.js", "transcript-view.js"),
)
DASHBOARD = View(
    "dashboard",
    "Sessions dashboard",
    "Statistics and QA findings as charts; a flagged session opens its transcript.",
    ("dom.js", "host.js", "charts.js", "transcript.js", "dashboard.js", "dashboard-view.js"),
    qa_template=True,
)
VIEWS = (TRANSCRIPT, DASHBOARD)


@cache
def view_html(view: View, tools: str) -> str:
    """The whole page of ``view``, with a CSP that allows only its own inline style and script.

    ``tools`` (JSON) names the tools the page may call back and their arguments: ``VIEW_TOOLS``.
    """
    parts = [_asset(name) for name in view.scripts]
    style = _asset("view.css")  # after the report's style: the host's theme decides the colours
    if view.qa_template:
        style = view_style() + style
        parts.insert(0, view_script())
    script = f'"use strict";\nconst VIEW_TOOLS = {tools};\n' + "\n".join(parts)
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src '{_digest(script)}'",
            f"style-src '{_digest(style)}'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )
    return _asset("page.html").format(csp=policy, title=view.title, style=style, script=script)


def _asset(name: str) -> str:
    return files(__name__).joinpath("assets", name).read_text(encoding="utf-8")


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
