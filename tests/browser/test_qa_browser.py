"""The HTML report in a real browser: headless Chromium renders it; the DOM has the counts, the
chart the script drew, and every flagged session at its anchor. Skipped when Chromium is absent,
except where ``SESSION_MCP_REQUIRE_BROWSER`` is set (CI); ``SESSION_MCP_SCREENSHOTS`` keeps the picture."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from session_mcp.companion.models import SessionDetail
from session_mcp.qa import report as report_module
from session_mcp.qa.report import QAReport, ReportBuilder
from session_mcp.qa.rules import RuleSet, parse_rules
from session_mcp.qa.verdicts import Verdicts
from session_mcp.qa.writers import render_html
from session_mcp.sessions.outcome import outcome_of
from session_mcp.simulator import Simulator
from session_mcp.store.base import Annotation
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


# -- the sections a support lead reads and sends (issue 18) ------------------------------------------

SCORECARD = """
[[scorecards]]
pass = 80
coach = 60
[[scorecards.criteria]]
check = "unanswered_user"
weight = 30
[[scorecards.criteria]]
outcome = ["resolved", "escalated"]
weight = 50
[[scorecards.criteria]]
check = "slow_response"
weight = 20
[[scorecards.criteria]]
check = "pii_exposed"
severity = "critical"
fatal = true
"""
NARROW = """<!doctype html><pre id="result">pending</pre>
<iframe id="frame" style="width:400px;height:800px;border:0" src="{src}"></iframe>
<script>
document.getElementById("frame").addEventListener("load", function (event) {{
  var doc = event.target.contentWindow.document, all = function (q) {{ return doc.querySelectorAll(q).length; }};
  var wide = Array.prototype.filter.call(doc.querySelectorAll("main *"), function (node) {{
    return node.getBoundingClientRect().right > 400.5 && !node.closest(".table-wrap");
  }}).map(function (node) {{ return node.tagName + "." + node.className; }});
  document.getElementById("result").textContent = JSON.stringify({{
    scrollWidth: doc.documentElement.scrollWidth, wide: wide.slice(0, 5),
    companions: all("#companions tr[data-companion]"), explained: all("#explained dt"),
    trendRows: all("#trend tr[data-name]"), trendNote: (doc.querySelector("#trend p") || {{}}).textContent,
    context: all(".context .turn.here"), disputed: all("li.disputed .review-disputed"), notes: all("p.note"),
    full: all("p.full code"), scorecards: all("#scorecards li"), outcome: all(".session .outcome"),
    mean: (doc.getElementById("count-mean-score") || {{}}).textContent
  }});
}});
</script>"""


def scored_report() -> QAReport:
    """The demo week with a scorecard, outcomes, one disputed finding and a reviewer's note."""
    rules = parse_rules(SCORECARD, "team.toml")
    sessions = [SessionDetail.model_validate(wire) for wire in Simulator(anchor=ANCHOR).sessions_of("demo")]
    first = next(f for s in sessions for f in rules.review(s) if f.turn_index is not None)
    notes = [
        Annotation(
            first.session_id,
            "dispute",
            "ana",
            ANCHOR,
            "her own number",
            first.check,
            first.turn_index,
            rules.fingerprint,
        ),
        Annotation(first.session_id, "note", "bo", ANCHOR, "Call back on Monday."),
    ]
    builder = ReportBuilder.of(rules, Verdicts(notes, rules.fingerprint))
    for session in sessions:
        builder.add(session, rules.review(session), shown=session, outcome=outcome_of(session))
    return builder.build(now=datetime.fromtimestamp(ANCHOR, UTC))


def test_the_new_sections_hold_at_400_px(tmp_path: Path) -> None:
    report = scored_report()
    path = tmp_path / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    frame = tmp_path / "frame.html"
    frame.write_text(NARROW.format(src=path.as_uri()))
    dom = chromium(
        tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom", frame.as_uri()
    )
    match = re.search(r'<pre id="result">(\{.*?\})</pre>', dom)
    assert match is not None, dom[:500]
    seen = json.loads(html.unescape(match.group(1)))
    assert seen["scrollWidth"] <= 400 and seen["wide"] == [], seen  # nothing wider than the screen
    assert seen["companions"] == len(report.companions) == 4
    assert seen["explained"] == len(report.explained) == len(report.checks)  # every check explained on the page
    assert report.trend is not None and report.trend.enough_history
    assert seen["trendRows"] == len(report.trend.rows) > 0
    flagged_turns = {
        (f.session_id, f.turn_index) for s in report.sessions for f in s.findings if f.turn_index is not None
    }
    assert seen["context"] == len(flagged_turns)  # each finding at a turn shows the turns around it
    assert seen["disputed"] == 1 and seen["notes"] == 1 and seen["full"] == 2 * len(report.sessions)
    assert seen["scorecards"] == 4 and seen["outcome"] > 0 and seen["mean"] == str(report.mean_score)


def test_a_page_of_a_big_review_draws_its_worst_sessions_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_module, "TOP_SESSIONS", 5)
    report = demo_report()
    path = tmp_path / "big.html"
    path.write_text(render_html(report), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", path.as_uri())
    articles = re.findall(r'<article class="session worst-\w+" id="session-([^"]+)"', dom)
    assert articles == [s.session_id for s in report.sessions] and len(articles) == 5 < report.listed
    assert f"The worst 5 of {report.listed} flagged sessions" in dom
