"""The demo data's deliberate faults: every one found (recall), nothing else flagged (precision)."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from session_mcp.cli.main import main
from session_mcp.companion.models import SessionDetail
from session_mcp.qa.checks import CHECK_IDS
from session_mcp.qa.rules import RuleSet
from session_mcp.simulator import Simulator
from session_mcp.simulator.faults_qa import READ_BACKS
from tests.helpers import ANCHOR


def recall_precision(simulator: Simulator, key: str = "demo") -> dict[str, tuple[int, int, int]]:
    """Per check: (expected sessions, flagged sessions, flagged and expected)."""
    expected = simulator.expected_findings[key]
    flagged: dict[str, set[str]] = defaultdict(set)
    for wire in simulator.sessions_of(key):
        for finding in RuleSet().review(SessionDetail.model_validate(wire)):
            flagged[finding.check].add(finding.session_id)
    table = {}
    for check in CHECK_IDS:
        wanted = {session_id for session_id, checks in expected.items() if check in checks}
        table[check] = (len(wanted), len(flagged[check]), len(wanted & flagged[check]))
    return table


@pytest.mark.parametrize("count", [240, 60])
def test_every_deliberate_fault_is_found_and_nothing_else(count: int, capsys: pytest.CaptureFixture[str]) -> None:
    table = recall_precision(Simulator(anchor=ANCHOR, session_count=count))
    with capsys.disabled():
        print(f"\n{count} demo sessions: check, expected, flagged, recall, precision")
        for check, (wanted, found, both) in table.items():
            print(f"  {check:20} {wanted:4} {found:4} {both / wanted:6.0%} {both / found if found else 1:6.0%}")
    for check, (wanted, found, both) in table.items():
        assert wanted >= 3, f"the demo data has too few {check} faults"
        assert both == wanted, f"{check}: recall {both}/{wanted}"
        assert both == found, f"{check}: precision {both}/{found}"


def test_the_marks_are_not_served(simulator: Simulator) -> None:
    assert simulator.expected_findings["demo"]
    served = str(simulator.sessions_of("demo"))
    assert "qa" not in {k.lower() for s in simulator.sessions_of("demo") for k in s}
    assert "expected" not in served


def test_the_demo_week_shows_every_check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's done-when command, as typed: every check has a finding in the last 7 days."""
    for name in ("NAPSTER_API_KEY", "NAPSTER_API_BASE_URL", "SESSION_MCP_QA_RULES", "SESSION_MCP_DEMO"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as done:
        main(["qa", "--demo", "--since", "7d"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+) +(?:info|warning|critical|-) +(\d+) +\d+$", out, re.M)}
    assert set(counts) == set(CHECK_IDS) and min(counts.values()) >= 1, counts


def test_the_demo_criticals_are_real_problems() -> None:
    """Issue 18: read-backs of what the caller just said are info; what stays critical is a failed
    session or the agent saying personal data the caller never gave (the injected disclosures)."""
    simulator = Simulator(anchor=ANCHOR)
    criticals = [
        (finding, SessionDetail.model_validate(wire))
        for wire in simulator.sessions_of("demo")
        for finding in RuleSet().review(SessionDetail.model_validate(wire))
        if finding.severity == "critical"
    ]
    assert {finding.check for finding, _ in criticals} == {"failed_session", "pii_exposed"}
    disclosures = [session.turns[f.turn_index].text for f, session in criticals if f.check == "pii_exposed"]
    assert disclosures and set(disclosures) <= set(READ_BACKS), disclosures
    read_backs = [
        f
        for wire in simulator.sessions_of("demo")
        for f in RuleSet().review(SessionDetail.model_validate(wire))
        if f.check == "pii_exposed" and f.severity == "info"
    ]
    assert len(read_backs) > len(disclosures)  # the booking agent confirming the caller's own number
