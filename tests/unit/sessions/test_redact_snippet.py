"""Search snippets are masked as their turns are, with the matched words marked again where they remain."""

from __future__ import annotations

from session_mcp.sessions.redact import redact_snippet
from session_mcp.store.base import MARKS


def test_a_mark_inside_an_email_does_not_hide_it() -> None:
    snippet = "write to li.wei12@«example».«com» about the «refund», «refund»!"
    assert redact_snippet(snippet, MARKS) == "write to [EMAIL] about the «refund», «refund»!"


def test_a_snippet_without_marks_or_personal_data_is_unchanged() -> None:
    assert redact_snippet("nothing «» here", MARKS) == "nothing  here"
    assert redact_snippet("plain words", MARKS) == "plain words"
