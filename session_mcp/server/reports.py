"""The HTML report of a review as a resource the host can read, and on a local server a file too.

``review_sessions`` puts the report's page (``qa.writers.render_html``) on a shelf and returns a
``resource_link`` to ``napster://reports/{report_id}.html``; ``resources/read`` of that URI gives
the page to the key that made it, and to no other (a report id of another tenant reads as not
found). The shelf is bounded: at most ``KEEP_PER_TENANT`` reports per key and ``KEEP_BYTES`` in
all, the oldest dropped first, so a long-running HTTP server holds a few megabytes at most. A
server on stdio (the user's own machine) also saves the page beside its session store
(``reports/qa-report-<time>-<id>.html``, ``0600`` in a ``0700`` folder, the newest
``KEEP_FILES`` kept) and gives its path: a file the user can attach to a message. Without a store
there is no folder of ours to write to, so only the link.
"""

from __future__ import annotations

import functools
import os
import secrets
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.types import ResourceLink

from session_mcp.qa.report import QAReport
from session_mcp.qa.writers import render_html
from session_mcp.render.common import plural
from session_mcp.server.backend import Backend
from session_mcp.server.toolkit import surface_errors

REPORT_URI = "napster://reports/{report_id}.html"
KEEP_PER_TENANT = 5
KEEP_BYTES = 64 * 1024 * 1024
KEEP_FILES = 50


class ReportShelf:
    """The latest HTML reports per tenant, bounded in number and bytes; thread-safe."""

    def __init__(self, per_tenant: int = KEEP_PER_TENANT, max_bytes: int = KEEP_BYTES) -> None:
        self.per_tenant = per_tenant
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, tuple[str, str]] = OrderedDict()  # id -> (tenant, page), oldest first
        self._lock = threading.Lock()

    def put(self, tenant: str, page: str) -> str:
        """Keep ``page`` for ``tenant``; its new id."""
        report_id = secrets.token_urlsafe(12)
        with self._lock:
            self._pages[report_id] = (tenant, page)
            mine = [key for key, (owner, _) in self._pages.items() if owner == tenant]
            for key in mine[: max(0, len(mine) - self.per_tenant)]:
                del self._pages[key]
            while len(self._pages) > 1 and sum(len(p) for _, p in self._pages.values()) > self.max_bytes:
                self._pages.popitem(last=False)
        return report_id

    def get(self, tenant: str, report_id: str) -> str | None:
        """The page of ``report_id`` when ``tenant`` made it (and it is still kept)."""
        with self._lock:
            kept = self._pages.get(report_id)
        return kept[1] if kept is not None and kept[0] == tenant else None


class ReportLinks(Backend):
    """Shelves review reports and serves them as resources (mixed into the review tool)."""

    @functools.cached_property
    def reports(self) -> ReportShelf:
        return ReportShelf()

    async def report_link(
        self, ctx: Context, report: QAReport, folder: Path | None
    ) -> tuple[ResourceLink, Path | None]:
        """The link to ``report``'s page, kept for this request's key, and the file saved in ``folder``."""
        page = await anyio.to_thread.run_sync(render_html, report)
        report_id = self.reports.put(self.client_for(ctx).fingerprint, page)
        saved = None
        if folder is not None and self.settings.transport == "stdio":
            saved = await anyio.to_thread.run_sync(save_report, folder, report_id, page)
        link = ResourceLink(
            uri=REPORT_URI.format(report_id=report_id),
            name=f"qa-report-{report_id}.html",
            title=f"QA report: {report.flagged} of {plural(report.reviewed, 'session')} flagged",
            description="The review as a page to read or send: per companion, every check explained, findings "
            "with the turns around them, trends. Read it with resources/read.",
            mime_type="text/html",
            size=len(page.encode()),
        )
        return link, saved

    async def read_report(self, report_id: str, ctx: Context) -> str:
        """``resources/read`` of a report: only the key that made it reads it."""
        with surface_errors("Reading a QA report"):
            page = self.reports.get(self.client_for(ctx).fingerprint, report_id)
            if page is None:
                raise ResourceNotFoundError(
                    "No such QA report (reports are kept in memory, the latest few per API key): run review_sessions "
                    "again for a new one."
                )
            return page


def save_report(folder: Path, report_id: str, page: str) -> Path | None:
    """``page`` as a private file in ``folder`` (made ``0700``); the oldest beyond ``KEEP_FILES`` removed.

    None when it cannot be written: the link still serves the page, so a full disk is no failure.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"qa-report-{stamp}-{report_id}.html"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(page)
        for old in sorted(folder.glob("qa-report-*.html"))[:-KEEP_FILES]:
            old.unlink(missing_ok=True)
    except OSError:
        return None
    return path
