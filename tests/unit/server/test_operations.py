"""The inputs a team's deployment sends, generated: toolset lists, request ids, log lines with
secrets in them, task ids. Each gives a result or one clear error, never a traceback."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.config import TOOLSETS, ConfigError, load_settings
from session_mcp.server.logs import MASK, JsonLines, RequestIds, request_secrets

ENV = {"NAPSTER_API_KEY": "k"}
WELL_FORMED = r"[A-Za-z0-9._:-]{1,128}"  # stated here, not imported: the test pins the server's rule
words = st.sampled_from([*TOOLSETS, "all", "ALL", " read ", "", ",", "sql", "read;qa", "\u0430ll", "q\x00a"])


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.lists(words, max_size=6).map(",".join), st.text(max_size=60)))
def test_a_toolset_list_gives_toolsets_or_a_clear_error(value: str) -> None:
    try:
        chosen = load_settings({"toolsets": value}, ENV).toolsets
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "read, search, qa, connect, directory" in message
        return
    assert chosen and list(chosen) == [name for name in TOOLSETS if name in chosen]  # stated order, each once


async def ids_for(raw: bytes | None) -> str:
    """The id ``RequestIds`` answers a request carrying ``raw`` (or no header) with."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [] if raw is None else [(b"x-request-id", raw)]
    scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": headers}
    await RequestIds(app)(scope, None, send)  # type: ignore[arg-type]
    echoed = [value for name, value in sent[0]["headers"] if name == b"x-request-id"]
    assert len(echoed) == 1
    return echoed[0].decode("latin-1")


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.none(), st.binary(max_size=300), st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True).map(str.encode)
    )
)
def test_a_request_id_is_the_callers_when_well_formed_else_a_new_one(raw: bytes | None) -> None:
    answered = anyio.run(ids_for, raw)
    if raw is not None and re.fullmatch(WELL_FORMED.encode(), raw):
        assert answered == raw.decode()
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", answered)


secret = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40)


@settings(max_examples=150, deadline=None)
@given(secret, secret, st.text(max_size=80), st.text(max_size=80))
def test_a_json_line_never_holds_a_secret(server_key: str, tenant_key: str, before: str, after: str) -> None:
    formatter = JsonLines([server_key])
    token = request_secrets.set((tenant_key,))
    try:
        message = f"{before}{server_key} {tenant_key} https://u:{tenant_key}@x.example/{after}"
        record = logging.LogRecord("t", logging.WARNING, __file__, 1, "%s", (message,), None)
        line = formatter.format(record)
    finally:
        request_secrets.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "t"
    if server_key not in MASK and tenant_key not in MASK:
        assert server_key not in line and tenant_key not in line


@pytest.mark.parametrize("value", ["json", "JSON", "text"])
def test_log_format_words(value: str) -> None:
    assert load_settings({"log_format": value}, ENV).log_format == value.lower()


def test_an_unknown_log_format_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^--log-format must be text or json, not 'xml'\.$"):
        load_settings({"log_format": "xml"}, ENV)
