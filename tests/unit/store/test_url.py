"""``--store`` as a file or a ``postgresql://`` URL: any text gives a location or one clear error, and a
URL's password never shows (``str``, ``repr``, the settings, a driver's message passed through ``hide``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.config import ConfigError, load_settings
from session_mcp.store.base import StoreError
from session_mcp.store.open import location_of
from session_mcp.store.url import DatabaseURL


@pytest.mark.parametrize(
    ("given_text", "shown"),
    [
        ("postgresql://bob:s3cret@db.internal:5432/sessions", "postgresql://bob@db.internal:5432/sessions"),
        ("postgres://bob:p%40ss@[::1]/s?sslmode=require&password=other", "postgres://bob@[::1]/s?sslmode=require"),
        ("postgresql:///sessions?host=/run/postgresql", "postgresql:///sessions?host=%2Frun%2Fpostgresql"),
        ("  POSTGRESQL://h/db  ", "postgresql://h/db"),
    ],
)
def test_a_url_is_shown_without_its_password(given_text: str, shown: str) -> None:
    location = location_of(given_text)
    assert isinstance(location, DatabaseURL)
    assert str(location) == shown and repr(location) == f"DatabaseURL({shown!r})"
    assert location.dsn == given_text.strip()


def test_anything_else_is_a_file() -> None:
    assert location_of("~/s.sqlite3") == Path.home() / "s.sqlite3"
    assert location_of("postgresql.sqlite3") == Path("postgresql.sqlite3")
    with pytest.raises(StoreError, match="cannot be read: write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE"):
        location_of("postgresql://h:notaport/db")
    with pytest.raises(ConfigError, match=r"^SESSION_MCP_STORE: this PostgreSQL URL cannot be read"):
        load_settings({"demo": True}, {"SESSION_MCP_STORE": "postgresql://h:99999999/db"})


PASSWORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=3, max_size=30)


@settings(max_examples=200, deadline=None, database=None)
@given(password=PASSWORDS, user=st.text("abcdefgh", min_size=1, max_size=8), host=st.sampled_from(["h", "10.0.0.1"]))
def test_no_password_survives_in_what_is_shown(password: str, user: str, host: str) -> None:
    for text in (
        f"postgresql://{user}:{quote(password, safe='')}@{host}/db",
        f"postgresql://{host}/db?password={quote(password)}",
    ):
        url = location_of(text)
        assert isinstance(url, DatabaseURL)
        told = url.hide(f"FATAL: password authentication failed ({password}, {quote(password, safe='')})")
        for secret in (password, quote(password, safe="")):
            assert secret not in told
            if secret not in f"postgresql://{user}@{host}/db" and secret not in "DatabaseURL()'":
                assert secret not in str(url) and secret not in repr(url)
        shown = repr(load_settings({"demo": True, "store": text}, {}))
        assert repr(url) in shown and url.dsn not in shown


@settings(max_examples=200, deadline=None, database=None)
@given(text=st.text(max_size=80).map(lambda t: "postgresql://" + t))
def test_any_url_is_a_location_or_one_clear_error(text: str) -> None:
    try:
        location = location_of(text)
    except StoreError as exc:
        assert "postgresql://" in str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(location, (DatabaseURL, Path))
