"""``session-mcp qa annotate`` and what a verdict does to ``qa``: a disputed finding is counted once less, shown
as disputed in every format, and ``--fail-on`` ignores it; scores and verdicts in JSON, JSONL and JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from session_mcp.cli.main import main
from session_mcp.qa.checks import CHECK_IDS

SCORECARD = """
[[scorecards]]
pass = 90
coach = 70
[[scorecards.criteria]]
check = "slow_response"
weight = 40
[[scorecards.criteria]]
check = "unanswered_user"
weight = 60
[[scorecards.criteria]]
check = "pii_exposed"
fatal = true
"""


@pytest.fixture
def api(base_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A real run's environment against the test simulator, with a store; returns a rules file whose only
    critical check is pii_exposed, and a scorecard."""
    monkeypatch.setenv("NAPSTER_API_KEY", "demo")
    monkeypatch.setenv("NAPSTER_API_BASE_URL", base_url)
    monkeypatch.setenv("SESSION_MCP_STORE", str(tmp_path / "store" / "s.sqlite3"))
    rules = tmp_path / "team.toml"
    quiet = "".join(f"[checks.{check}]\nseverity = 'info'\n" for check in CHECK_IDS if check != "pii_exposed")
    loud = "[checks.pii_exposed]\nread_back_severity = 'critical'\n"  # the demo's read-backs: criticals to dispute
    rules.write_text(quiet + loud + SCORECARD)
    return rules


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(["qa", *argv])
    code = done.value.code
    return code if isinstance(code, int) else 1


def report(rules: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert run("--limit", "40", "--rules", str(rules), "--format", "json", *extra) in (0, 1)
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_disputed_findings_stop_counting_and_fail_on_ignores_them(
    api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = report(api, capsys)
    criticals = [f for s in before["sessions"] for f in s["findings"] if f["severity"] == "critical"]
    assert criticals and all(f["check"] == "pii_exposed" for f in criticals)
    assert run("--limit", "40", "--rules", str(api), "--fail-on", "critical") == 1
    capsys.readouterr()
    for finding in criticals:
        turn = [] if finding["turn_index"] is None else ["--turn", str(finding["turn_index"])]
        code = run("annotate", finding["session_id"], "--dispute", "pii_exposed", *turn, "--reviewer", "ana",
                   "--rules", str(api), "--comment", "the caller's own number")  # fmt: skip
        assert code == 0
        assert capsys.readouterr().out.startswith(f"Disputed the pii_exposed finding at turn {finding['turn_index']}")
    after = report(api, capsys)
    assert after["findings"] == before["findings"] - len(criticals) and after["disputed"] == len(criticals)
    assert after["by_severity"]["critical"] == 0
    disputed = [f for s in after["sessions"] for f in s["findings"] if f.get("review")]
    assert {f["review"]["verdict"] for f in disputed} == {"disputed"} and len(disputed) == len(criticals)
    assert run("--limit", "40", "--rules", str(api), "--fail-on", "critical") == 0  # ignored now
    assert "(disputed by ana: not counted)" in capsys.readouterr().out  # the text report shows them too
    out = tmp_path / "qa.xml"
    assert run("--limit", "40", "--rules", str(api), "--format", "junit", "--out", str(out)) == 0
    skipped = [s for case in ET.parse(out).getroot().iter("testcase") for s in case.findall("skipped")]
    assert len(skipped) == len(criticals) and all(
        "(disputed by ana: not counted)" in s.get("message", "") for s in skipped
    )
    assert run("--limit", "40", "--rules", str(api), "--format", "jsonl") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(1 for line in lines if (line.get("review") or {}).get("verdict") == "disputed") == len(criticals)
    # the scores were 0 (fatal) for those sessions before, and are no longer
    fatal_before = {r["session_id"] for r in before["reviewed_sessions"] if r["score"] == 0}
    assert fatal_before and not fatal_before & {r["session_id"] for r in after["reviewed_sessions"] if r["score"] == 0}


def test_every_reviewed_session_has_a_score_and_verdict_in_json_jsonl_and_junit(
    api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = report(api, capsys)
    rows = data["reviewed_sessions"]
    assert len(rows) == data["reviewed"] == 40
    assert all(0 <= r["score"] <= 100 and r["verdict"] in ("pass", "coach", "fail") for r in rows)
    assert sum(data["verdicts"].values()) == 40 and data["mean_score"] is not None
    assert sum(c["sessions"] for c in data["companions"]) == 40
    assert all(c["mean_score"] is not None for c in data["companions"])
    assert run("--limit", "40", "--rules", str(api), "--format", "jsonl") == 0
    sessions = [line for line in map(json.loads, capsys.readouterr().out.splitlines()) if line.get("record")]
    assert [(s["session_id"], s["score"]) for s in sessions] == [(r["session_id"], r["score"]) for r in rows]
    out = tmp_path / "qa.xml"
    assert run("--limit", "40", "--rules", str(api), "--format", "junit", "--out", str(out)) == 0
    cards = [c for c in ET.parse(out).getroot().iter("testcase") if c.get("name") == "scorecard"]
    failed = [c for c in cards if c.find("failure") is not None]
    assert len(cards) == 40 and len(failed) == data["verdicts"]["fail"]


def test_annotate_refuses_what_it_cannot_keep(api: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("annotate", "sess_nope", "--note", "hi", "--reviewer", "ana") == 2
    assert capsys.readouterr().err.startswith("session-mcp: ")
    with pytest.raises(SystemExit) as usage:
        main(["qa", "annotate", "sess_x", "--reviewer", "ana"])  # no --confirm, --dispute or --note
    assert usage.value.code == 2
    assert run("annotate", "sess_x", "--note", "hi", "--reviewer", "ana", "--no-store") == 2
    assert "no session store" in capsys.readouterr().err
