"""The HTML report in a real browser: headless Chromium renders it; the DOM has the counts, the
chart the script drew, and every flagged session at its anchor. Skipped when Chromium is absent,
except where ``SESSION_MCP_REQUIRE_BROWSER`` is set (CI); ``SESSION_MCP_SCREENSHOTS`` keeps the picture."""

from __future__ import annotations

import html
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from session_mcp.companion.models import SessionDetail
from session_mcp.qa.report import QAReport, ReportBuilder
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.writers import render_html
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR, screenshots
from tests.views_harness import kit

CHROMIUM = kit.chromium_path()
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
HOSTILE_EVIDENCE = "</script><img src=x onerror=\"document.title='pwned'\"> & <b>bold</b>"


@pytest.fixture(autouse=True, scope="module")
def browser() -> None:
    """Skip without Chromium, unless CI requires the browser tests: then fail."""
    if CHROMIUM is None:
        if os.environ.get(kit.REQUIRE_ENV):
            pytest.fail(f"{kit.REQUIRE_ENV} is set but chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


def demo_report() -> QAReport:
    rules = RuleSet()
    builder = ReportBuilder(rules.check_ids)
    for wire in Simulator(anchor=ANCHOR).sessions_of("demo"):
        session = SessionDetail.model_validate(wire)
        builder.add(session, rules.review(session))
    report = builder.build(now=datetime.fromtimestamp(ANCHOR, UTC))
    hostile = report.sessions[-1].findings[-1].model_copy(update={"evidence": HOSTILE_EVIDENCE})
    report.sessions[-1].findings[-1] = hostile
    return report


def chromium(tmp_path: Path, *arguments: str) -> str:
    assert CHROMIUM is not None
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *arguments]
    done = subprocess.run(command, capture_output=True, timeout=120, check=True)
    return done.stdout.decode()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[QAReport, Path]:
    report = demo_report()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return report, path


def test_the_page_renders_counts_chart_and_sessions(page: tuple[QAReport, Path], tmp_path: Path) -> None:
    report, path = page
    source = path.read_text()
    assert "<rect" not in source and 'id="session-' not in source  # the script draws them, not the server
    dom = chromium(tmp_path, "--dump-dom", path.as_uri())
    for name, value in (("reviewed", report.reviewed), ("flagged", report.flagged), ("findings", report.findings)):
        assert f'id="count-{name}">{value}</b>' in dom
    for check in report.checks:
        assert re.search(rf'<tr[^>]*data-check="{check.check}"><td class="check">{check.check}</td>', dom)
    chart = dom[dom.index('id="per-day-chart"') :]
    days = [d for d in report.per_day if d.info + d.warning + d.critical]
    assert chart.count('class="bar"') >= len(days) > 5 and chart.count("<rect") >= len(days)
    articles = re.findall(r'<article class="session worst-\w+" id="session-([^"]+)"', dom)
    assert articles == [s.session_id for s in report.sessions]
    first = report.sessions[0]
    article = dom[dom.index(f'id="session-{first.session_id}"') :].split("</article>")[0]
    for finding in first.findings:
        if finding.evidence:
            assert html.escape(finding.evidence, quote=False) in article
    assert "pwned" not in dom.split("<body")[0] and "<img" not in dom
    assert html.escape(HOSTILE_EVIDENCE, quote=False) in dom  # shown as text, never run


FRAME = """<!doctype html><pre id="result">pending</pre>
<iframe id="frame" style="width:1000px;height:700px" src="{src}"></iframe>
<script>
document.getElementById("frame").addEventListener("load", function (event) {{
  var inner = event.target.contentWindow;
  var target = inner.document.getElementById({anchor});
  var top = target ? target.getBoundingClientRect().top : null;
  document.getElementById("result").textContent = JSON.stringify({{scrolled: inner.scrollY, top: top}});
}});
</script>"""


def test_a_session_is_reachable_by_its_anchor(page: tuple[QAReport, Path], tmp_path: Path) -> None:
    report, path = page
    session_id = report.sessions[len(report.sessions) // 2].session_id
    anchor = f"session-{session_id}"
    frame = tmp_path / "frame.html"
    frame.write_text(FRAME.format(src=f"{path.as_uri()}#{anchor}", anchor=f'"{anchor}"'))
    dom = chromium(
        tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom", frame.as_uri()
    )
    match = re.search(r'<pre id="result">\{"scrolled":(\d+(?:\.\d+)?),"top":(-?\d+(?:\.\d+)?)\}</pre>', dom)
    assert match is not None, dom[:500]
    assert float(match.group(1)) > 500 and abs(float(match.group(2))) < 5


def test_a_screenshot_for_people(page: tuple[QAReport, Path], tmp_path: Path) -> None:
    _, path = page
    shot = screenshots(tmp_path) / "qa-report.png"
    chromium(tmp_path, "--window-size=1200,1500", f"--screenshot={shot}", path.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
