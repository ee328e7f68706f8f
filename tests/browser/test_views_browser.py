"""The views in a real browser: headless Chromium, the extension's own host bridge, real results.

A loopback test host (``tests/views_harness``) acts as a web host does under the MCP Apps
specification: the ``AppBridge`` of ``@modelcontextprotocol/ext-apps`` on one origin, the sandbox
proxy on another, the view's HTML read from the server with ``resources/read`` and loaded into a
sandboxed iframe, the result of a real ``tools/call`` (against the simulator-backed server)
handed over, and the tool calls the view makes forwarded to the server, recorded, and echoed as
tool-input and tool-result notifications (the specification's interactive phase). Chromium
then shows what the DOM holds. Expected values come from the simulator's raw data or from the
tool result the view was handed, never from the view's own code.

Skipped without node, npm or Chromium, except where ``SESSION_MCP_REQUIRE_BROWSER`` is set (CI).
``SESSION_MCP_SCREENSHOTS=docs/views`` writes the pictures of docs/tools.md there.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR, FAST_RETRY, SwitchableApp, connect, screenshots
from tests.views_harness import kit
from tests.views_harness.host import ViewHost

pytestmark = pytest.mark.anyio

WIDTH = 400  # the narrowest a view must stay usable at
HOSTILE = '</script><img src=x onerror="document.title=1"><b>bold</b> & "quotes"'
SHOWN_TURNS = 5  # the transcript call asks for a window, so the view has more to load
DASHBOARD_LIMIT = 120  # sessions behind the dashboard: two weeks of demo traffic, fast to review
REVIEW_LIMIT = 50
SMALL_BUDGET = 2_000  # the least max_chars: a review answer shows one flagged session and names the rest
EXTRA_COMPANIONS = 10  # given to old sessions, so the statistics cut companions (14 > 10 > 8 drawn)
ODD_STATUS = "expired"  # a status the views have no colour of their own for
NO_SUCH_SESSION = "no-such-session"
# A window of 100 days up to the demo's "now": longer than the 62 days the statistics draw.
WINDOW = {
    "since": datetime.fromtimestamp(ANCHOR - 100 * 86_400, UTC).isoformat(),
    "until": datetime.fromtimestamp(ANCHOR + 3_600, UTC).isoformat(),
}


@pytest.fixture(scope="session")
def views_kit() -> Path:
    return kit.ready_or_skip()


def mm_ss(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"[{minutes:02d}:{secs:02d}]"


def luminance(css_color: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def failed_tools(session: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in session.get("functionMetrics") or [] if m.get("state") == "failed"]


def closed_sessions(simulator: Simulator, *, flagged_for: str | None = None) -> list[dict[str, Any]]:
    """Closed sessions of 8 turns or more; with ``flagged_for``, those the demo data made fail that check."""
    expected = simulator.expected_findings["demo"]
    return [
        s
        for s in simulator.sessions_of("demo")
        if s["status"] == "closed"
        and 8 <= len(s["conversation"]["items"]) <= 20
        and (flagged_for is None or flagged_for in expected.get(s["id"], ()))
    ]


def cut_everything(simulator: Simulator, keep: set[str]) -> None:
    """Give the oldest sessions (none in ``keep``, none the 120 newest) new companions and one an odd status."""
    oldest = sorted(
        (s for s in simulator.sessions_of("demo") if s["id"] not in keep), key=lambda s: s.get("createdAt") or 0
    )[: EXTRA_COMPANIONS + 1]
    for number, session in enumerate(oldest[:EXTRA_COMPANIONS]):
        session["companionId"] = f"extra-companion-{number}"
    oldest[-1]["status"] = ODD_STATUS


def check_page(run: dict[str, Any], host_origins: tuple[str, ...], *, errors: int = 0) -> None:
    """What every run must show: settled, no errors, no network, the theme, the width, its size told."""
    first = run["facts"][0]
    assert first["state"] == "ready" and len(first["errors"]) == errors
    assert [m for m in run["console"] if m["type"] in ("error", "pageerror")] == []
    assert run["fetchProbe"] == "blocked"
    assert all(url.startswith(host_origins) for url in run["requests"]), run["requests"]
    assert run["host"]["initialized"]
    assert any(height > 120 for height in run["host"]["sizes"])  # grown past the host's first 120 px
    assert any("default-src 'none'" in policy and "script-src 'sha256-" in policy for policy in first["policies"])
    for facts in run["facts"]:
        assert not facts["overflowX"] and WIDTH - 20 <= facts["width"] <= WIDTH  # a scrollbar may take its share
    dark = run["theme"] == "dark"
    assert first["theme"] == run["theme"] and first["colorScheme"] == run["theme"]
    # The host's own --color-background-primary, resolved for the theme it announced.
    assert first["background"] == ("rgb(31, 31, 30)" if dark else "rgb(255, 255, 255)")
    assert (luminance(first["color"]) > 0.8) if dark else (luminance(first["color"]) < 0.2)


@dataclass
class Rendered:
    """One browser session over all the views, and what they were handed and fetched."""

    runs: dict[str, dict[str, Any]]
    origins: tuple[str, ...]
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]]  # tool, arguments, structured content
    simulator: Simulator
    session: dict[str, Any]
    query: str
    stats: dict[str, Any]
    results: dict[str, dict[str, Any]]  # scenario: the result the view was opened with (wire form)
    escalation: int  # the turn of the session's escalation request

    def answer(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """What the server answered a call a view made (asserting that the view made it)."""
        answers = [content for name, given, content in self.calls if (name, given) == (tool, arguments)]
        assert answers, f"no {tool} call with {arguments}: {[(n, a) for n, a, _ in self.calls]}"
        return answers[0]


@pytest.fixture(scope="module")
async def rendered(
    upstream: tuple[SwitchableApp, str], views_kit: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Rendered]:
    """Both views in both themes at 400 px, the dashboard opened from a review, and a hostile
    transcript, driven in one browser session for the module."""
    simulator = Simulator(anchor=ANCHOR)
    upstream[0].simulator = simulator
    pictures = screenshots(tmp_path_factory.mktemp("views"))
    session = closed_sessions(simulator, flagged_for="escalation_request")[0]
    hostile = next(s for s in closed_sessions(simulator) if failed_tools(s))
    hostile["conversation"]["items"][1]["text"] = HOSTILE
    query = re.findall(r"[a-z]{5,}", session["conversation"]["items"][0]["text"].lower())[0]
    last = len(session["conversation"]["items"]) - 1
    escalation = next(i for i, raw in enumerate(session["conversation"]["items"]) if "talk to a human" in raw["text"])
    cut_everything(simulator, {session["id"], hostile["id"]})

    def shot(name: str) -> dict[str, str]:
        return {"screenshot": str(pictures / f"{name}.png")}

    def run(name: str, scenario: str, theme: str, *steps: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "scenario": scenario, "theme": theme, "width": WIDTH, "steps": list(steps)}

    plan = [
        run(
            "transcript-light",
            "transcript",
            "light",
            {"click": ".load-more", "waitFor": f'.turn[data-turn-index="{last}"]'},
            shot("transcript-light"),
        ),
        run(
            "transcript-dark",
            "transcript",
            "dark",
            {"fill": "input[type=search]", "value": query},
            shot("transcript-dark"),
            {
                "click": f'.findings-summary button.link[data-turn-index="{escalation}"]',
                "waitFor": f'.turn[data-turn-index="{escalation}"]',
            },
        ),
        run(
            "dashboard-light",
            "dashboard",
            "light",
            shot("dashboard-light"),
            {"click": "button.open-transcript", "waitFor": ".opened article.transcript"},
        ),
        run(
            "dashboard-dark",
            "dashboard",
            "dark",
            {"click": "button.open-transcript", "waitFor": ".opened article.transcript"},
            shot("dashboard-dark"),
        ),
        run("review-light", "review", "light"),
        run("hostile", "hostile", "light", {"hostTheme": "dark"}),
        run(
            "cuts",
            "cuts",
            "light",
            # The session was only named: its findings come by a second call after the transcript, and
            # the view stays "ready" meanwhile, so wait for them, not for the transcript alone (a race
            # CI lost once: the facts were read between the two answers).
            {"click": ".not-shown button.open-transcript", "waitFor": ".opened .findings-summary:not([hidden])"},
        ),
        {**run("no-tools-transcript", "transcript", "light"), "serverTools": False},
        {**run("no-tools-dashboard", "dashboard", "light"), "serverTools": False},
        run("error", "error", "light"),
        run("empty", "empty", "dark"),
    ]
    ui = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with (
        CompanionClient(api_key="demo", base_url=upstream[1], retry=FAST_RETRY, timeout=5) as client,
        connect(client, extensions=[ui]) as mcp,
        connect(client, Settings(max_chars=SMALL_BUDGET), extensions=[ui]) as small,
    ):
        host = ViewHost(mcp, views_kit)
        await host.add_scenario(
            "transcript", "get_session_transcript", {"session_id": session["id"], "limit": SHOWN_TURNS}
        )
        await host.add_scenario("hostile", "get_session_transcript", {"session_id": hostile["id"]})
        stats = await host.add_scenario("dashboard", "session_stats", {"limit": DASHBOARD_LIMIT})
        await host.add_scenario("review", "review_sessions", {"limit": REVIEW_LIMIT})
        # No limit: over a window the statistics' default is 1000 sessions, the review's 200.
        await host.add_scenario("cuts", "session_stats", WINDOW, small)
        await host.add_scenario("error", "get_session_transcript", {"session_id": NO_SUCH_SESSION})
        await host.add_scenario("empty", "session_stats", {"companion_id": "comp_concierge"})  # no session
        report = await host.drive(plan)
    runs = {item["name"]: item for item in report["runs"]}
    for name in ("transcript", "dashboard"):
        print(f"{name} view: {len(host.scenarios[name].view_html.encode())} bytes")
    for item in runs.values():
        print(f"{item['name']}: render {item['facts'][0]['renderMs']} ms, ready after {item['readyMs']} ms")
    print("in", report["browser"], "; screenshots in", pictures)
    yield Rendered(
        runs=runs,
        origins=tuple(report["origins"]),
        calls=[
            (params["name"], params.get("arguments") or {}, answer.get("result", {}).get("structuredContent") or {})
            for params, answer in host.calls
        ],
        simulator=simulator,
        session=session,
        query=query,
        stats=stats.result.structured_content or {},
        results={name: scenario.page_data()["result"] for name, scenario in host.scenarios.items()},
        escalation=escalation,
    )


async def test_every_view_settles_offline_themed_and_fits_400_px(rendered: Rendered) -> None:
    assert len(rendered.runs) == 11
    for name, run in rendered.runs.items():
        check_page(run, rendered.origins, errors=name == "error")


async def test_transcript_shows_the_header_and_timed_turns_and_loads_the_rest(rendered: Rendered) -> None:
    session, items = rendered.session, rendered.session["conversation"]["items"]
    shown = rendered.runs["transcript-light"]["facts"][0]["transcripts"][0]
    assert shown["sessionId"] == session["id"] and session["id"] in shown["title"] and "closed" in shown["title"]
    assert shown["facts"]["Companion"] == session["companionId"]
    assert [t["index"] for t in shown["turns"]] == list(range(SHOWN_TURNS)) and shown["loadMore"]
    assert f"{SHOWN_TURNS} of {len(items)}" in shown["windowNote"]
    for turn, raw in zip(shown["turns"], items, strict=False):
        assert turn["text"] == raw["text"] and turn["role"] == raw["role"]
        assert turn["offset"] == mm_ss(raw["timestamp"] - session["startedAt"])
        assert turn["label"] == raw["role"].capitalize()
    agent, user = (next(t for t in shown["turns"] if t["role"] == role) for role in ("agent", "user"))
    assert agent["background"] != user["background"]  # roles told apart at a glance
    loaded = rendered.runs["transcript-light"]["facts"][1]["transcripts"][0]
    assert [t["index"] for t in loaded["turns"]] == list(range(len(items))) and not loaded["loadMore"]
    assert rendered.answer("get_session_transcript", {"session_id": session["id"], "offset": SHOWN_TURNS})


async def test_transcript_marks_the_sessions_qa_findings_on_their_turns(rendered: Rendered) -> None:
    session, items = rendered.session, rendered.session["conversation"]["items"]
    review = rendered.answer("review_sessions", {"session_ids": [session["id"]]})
    (reviewed,) = review["sessions"]
    loaded = rendered.runs["transcript-light"]["facts"][1]["transcripts"][0]
    # Every check the demo data made this session fail, listed; each on its turn once loaded.
    expected = rendered.simulator.expected_findings["demo"][session["id"]]
    assert set(loaded["summary"]) == expected
    on_turns = {(f["turn_index"], f["check"]) for f in reviewed["findings"] if f.get("turn_index") is not None}
    marked = {(t["index"], check) for t in loaded["turns"] for check in t["checks"]}
    assert marked == on_turns and all(t["severity"] for t in loaded["turns"] if t["flagged"])
    escalation = next(i for i, raw in enumerate(items) if "talk to a human" in raw["text"])
    assert (escalation, "escalation_request") in marked


async def test_search_keeps_the_matching_turns_and_marks_the_matches(rendered: Rendered) -> None:
    items = rendered.session["conversation"]["items"][:SHOWN_TURNS]
    searched = rendered.runs["transcript-dark"]["facts"][1]["transcripts"][0]
    matching = [i for i, raw in enumerate(items) if rendered.query in raw["text"].lower()]
    assert matching and [t["index"] for t in searched["turns"] if not t["hidden"]] == matching
    assert all(t["marks"] >= 1 for t in searched["turns"] if not t["hidden"])
    total = len(rendered.session["conversation"]["items"])
    assert searched["matchCount"] == f"{len(matching)} of {SHOWN_TURNS} loaded turns ({total} in all) match"


async def test_a_findings_jump_to_an_unloaded_turn_loads_up_to_it(rendered: Rendered) -> None:
    assert rendered.escalation >= SHOWN_TURNS  # not in the first window
    jumped = rendered.runs["transcript-dark"]["facts"][2]["transcripts"][0]
    assert rendered.escalation in [t["index"] for t in jumped["turns"]]
    assert rendered.answer("get_session_transcript", {"session_id": rendered.session["id"], "offset": SHOWN_TURNS})


async def test_upstream_markup_is_shown_as_text(rendered: Rendered) -> None:
    turn = rendered.runs["hostile"]["facts"][0]["transcripts"][0]["turns"][1]
    assert turn["text"] == HOSTILE  # verbatim: nothing of it parsed, run or rendered


async def test_the_header_names_the_tools_that_failed_to_connect(rendered: Rendered) -> None:
    header = rendered.runs["hostile"]["facts"][0]["transcripts"][0]["facts"]
    hostile = rendered.simulator.projects["demo"].sessions[
        rendered.runs["hostile"]["facts"][0]["transcripts"][0]["sessionId"]
    ]
    for tool in failed_tools(hostile):
        assert f"{tool['name']} ({tool['error']['code']}: " in header["Failed tools"]


async def test_a_theme_change_from_the_host_restyles_the_view(rendered: Rendered) -> None:
    before, after = rendered.runs["hostile"]["facts"]
    assert (before["theme"], after["theme"]) == ("light", "dark")
    assert luminance(before["background"]) > 0.9 and luminance(after["background"]) < 0.2


async def test_dashboard_draws_the_figures_of_its_result(rendered: Rendered) -> None:
    figures = rendered.stats
    board = rendered.runs["dashboard-light"]["facts"][0]
    assert board["tiles"]["sessions"] == str(figures["examined"])
    assert board["tiles"]["failed"].startswith(str(figures["by_status"].get("failed", 0)))
    charts = {chart["caption"]: chart for chart in board["charts"]}
    assert {row["label"]: row["value"] for row in charts["Sessions by status"]["rows"]} == figures["by_status"]
    companions = charts["Sessions per companion"]["rows"]
    assert {row["label"]: row["value"] for row in companions} == figures["by_companion"]
    widths = [row["barWidth"] for row in companions]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]  # drawn to scale
    days = charts["Sessions per day (UTC) by status"]["columns"]
    assert [d["day"] for d in days] == [d["day"] for d in figures["per_day"]]
    drawn = {d["day"]: {seg["series"]: seg["value"] for seg in d["segments"]} for d in days}
    assert drawn == {d["day"]: d["by_status"] for d in figures["per_day"]}
    duration, *per_companion = charts["Session duration"]["rows"]
    assert (duration["median"], duration["p90"]) == (
        figures["duration_seconds"]["median"],
        figures["duration_seconds"]["p90"],
    )
    assert [(row["label"], row["median"], row["p90"]) for row in per_companion] == [
        (c["companion_id"], c["duration_seconds"]["median"], c["duration_seconds"]["p90"])
        for c in figures["companions"]
        if c["duration_seconds"]["count"]
    ]
    spend = {row["label"]: row["value"] for row in charts["Cost per companion"]["rows"]}
    assert spend == {a["key"]: a["cost"] for a in figures["cost"]["by_companion"]} and spend
    failures = {row["label"]: row["value"] for row in charts["Tool connection failures"]["rows"]}
    assert failures == {t["name"]: t["failed"] for t in figures["tools"] if t["failed"]} and failures


async def test_dashboard_shows_the_qa_review_of_the_same_sessions(rendered: Rendered) -> None:
    # asked through the host, with the statistics' own arguments
    review = rendered.answer("review_sessions", {"limit": DASHBOARD_LIMIT})
    qa = rendered.runs["dashboard-light"]["facts"][0]["qa"]
    assert qa["counts"]["reviewed"] == review["reviewed"] == rendered.stats["examined"]
    assert (qa["counts"]["flagged"], qa["counts"]["findings"]) == (review["flagged"], review["findings"])
    assert qa["checks"] == {c["check"]: c["findings"] for c in review["checks"]}
    days_with_findings = [d for d in review["per_day"] if d["info"] + d["warning"] + d["critical"]]
    assert len(qa["perDay"]) >= len(days_with_findings) > 3
    assert all(day["filled"] for day in qa["perDay"])  # coloured by class, under the view's strict CSP
    shown = [item["id"] for item in qa["sessions"]]
    assert shown == [s["session_id"] for s in review["sessions"]] and all(item["open"] for item in qa["sessions"])
    # outcomes per session, the per-companion breakdown and the outcome counts (issue 18)
    assert all(
        f"outcome {s['outcome']}" in item["meta"] for item, s in zip(qa["sessions"], review["sessions"], strict=True)
    )
    assert qa["companions"] == {c["companion_id"]: c["sessions"] for c in review["companions"]}
    assert qa["outcomes"].startswith("Outcomes: ") and f"{review['outcomes']['resolved']} resolved" in qa["outcomes"]
    expected = rendered.simulator.expected_findings["demo"]
    assert all(session_id in expected for session_id in shown)  # flagged: what the demo data made faulty


async def test_a_flagged_session_opens_its_transcript_with_the_findings_marked(rendered: Rendered) -> None:
    review = rendered.answer("review_sessions", {"limit": DASHBOARD_LIMIT})
    first = review["sessions"][0]
    opened = rendered.runs["dashboard-light"]["facts"][1]["transcripts"]
    (transcript,) = [t for t in opened if t["sessionId"] == first["session_id"]]
    rendered.answer("get_session_transcript", {"session_id": first["session_id"]})
    assert set(transcript["summary"]) == {f["check"] for f in first["findings"]}
    on_turns = {(f["turn_index"], f["check"]) for f in first["findings"] if f.get("turn_index") is not None}
    assert {(t["index"], c) for t in transcript["turns"] for c in t["checks"]} == on_turns


async def test_dashboard_opened_from_a_review_fetches_its_statistics(rendered: Rendered) -> None:
    stats = rendered.answer("session_stats", {"limit": REVIEW_LIMIT})
    board = rendered.runs["review-light"]["facts"][0]
    charts = {chart["caption"]: chart for chart in board["charts"]}
    assert {row["label"]: row["value"] for row in charts["Sessions by status"]["rows"]} == stats["by_status"]
    assert board["qa"]["counts"]["reviewed"] == REVIEW_LIMIT


async def test_views_render_only_the_result_they_were_opened_for(rendered: Rendered) -> None:
    """The host echoes each call of the view's own as tool-input and tool-result (the interactive
    phase): the views neither redraw with those nor call again."""
    made = {
        name: [call["name"] for call in rendered.runs[name]["host"]["toolCalls"]]
        for name in ("transcript-light", "dashboard-light", "review-light")
    }
    assert made == {
        "transcript-light": ["review_sessions", "get_session_transcript"],
        "dashboard-light": ["review_sessions", "get_session_transcript"],
        "review-light": ["session_stats"],
    }
    for name, calls in made.items():
        assert rendered.runs[name]["host"]["echoed"] == len(calls)
    # Still the transcript it was opened with, after its own review_sessions answer was echoed.
    assert rendered.runs["transcript-light"]["facts"][0]["transcripts"][0]["sessionId"] == rendered.session["id"]


async def test_the_dashboard_says_what_it_left_out(rendered: Rendered) -> None:
    board = rendered.runs["cuts"]["facts"][0]
    stats = rendered.results["cuts"]["structuredContent"]
    # No limit from the model: the review is of the sessions the statistics examined.
    review = rendered.answer("review_sessions", {**WINDOW, "limit": stats["examined"]})
    assert board["qa"]["counts"]["reviewed"] == review["reviewed"] == stats["examined"] > 200
    # The answer names at most 100 of the sessions it left out and counts them all.
    assert review["not_shown"] and len(review["sessions"]) + review["not_shown_count"] == review["flagged"]
    qa = board["qa"]
    assert [item["id"] for item in qa["sessions"]] == [s["session_id"] for s in review["sessions"]]
    assert qa["notShown"].startswith(f"{review['not_shown_count']} more flagged sessions not listed")
    assert qa["notShownIds"] == review["not_shown"][:50]
    assert qa["notShownIdsText"].endswith(f" and {review['not_shown_count'] - 50} more")
    charts = {chart["caption"]: chart for chart in board["charts"]}
    other = len(stats["companions"]) - 8 + stats["other_companions"]
    assert stats["other_companions"]
    assert charts["Sessions per companion"]["note"] == f"{other} other companions not drawn"
    spent = len(stats["cost"]["by_companion"]) - 8 + stats["other_companions"]
    assert charts["Cost per companion"]["note"].endswith(f"{spent} other companions not drawn")
    assert stats["earlier_days"] and charts["Sessions per day (UTC) by status"]["note"] == (
        f"{stats['earlier_days']} earlier days ({stats['earlier_sessions']} sessions) not drawn"
    )
    # A session the answer only named opens with its findings, asked for on the way.
    named = review["not_shown"][0]
    found = rendered.answer("review_sessions", {"session_ids": [named]})
    (opened,) = [t for t in rendered.runs["cuts"]["facts"][1]["transcripts"] if t["sessionId"] == named]
    assert set(opened["summary"]) == {f["check"] for f in found["sessions"][0]["findings"]}


async def test_a_status_without_a_colour_of_its_own_is_drawn_in_the_others_colour(rendered: Rendered) -> None:
    charts = {chart["caption"]: chart for chart in rendered.runs["cuts"]["facts"][0]["charts"]}
    bars = {row["label"]: row["fill"] for row in charts["Sessions by status"]["rows"]}
    assert ODD_STATUS in bars and len(set(bars.values())) == len(bars)  # each its own colour
    black = "rgb(0, 0, 0)"
    assert black not in bars.values()
    days = charts["Sessions per day (UTC) by status"]
    assert any(ODD_STATUS in item for item in days["legend"])
    assert black not in days["segmentFills"] and "rgba(0, 0, 0, 0)" not in days["swatches"]


async def test_without_server_tools_the_views_offer_no_call(rendered: Rendered) -> None:
    transcript = rendered.runs["no-tools-transcript"]
    shown = transcript["facts"][0]["transcripts"][0]
    assert not shown["loadMore"] and "does not let the view load more" in shown["windowNote"]
    assert shown["notice"] == "QA findings are not marked: this host does not let the view call tools."
    board = rendered.runs["no-tools-dashboard"]
    assert board["facts"][0]["qa"] is None and board["facts"][0]["tiles"]["sessions"]
    assert "QA review unavailable: this host does not let the view call tools" in board["facts"][0]["notes"]
    assert transcript["host"]["toolCalls"] == [] == board["host"]["toolCalls"]


async def test_an_error_result_and_an_empty_one(rendered: Rendered) -> None:
    error = rendered.results["error"]
    assert error["isError"]
    assert rendered.runs["error"]["facts"][0]["errors"] == [error["content"][0]["text"].strip()]
    empty = rendered.runs["empty"]["facts"][0]
    assert rendered.results["empty"]["structuredContent"]["examined"] == 0
    assert empty["tiles"]["sessions"] == "0" and empty["errors"] == []
    assert "QA review unavailable: no sessions matched" in empty["notes"]
    assert rendered.runs["empty"]["host"]["toolCalls"] == []
