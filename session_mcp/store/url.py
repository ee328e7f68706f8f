"""A PostgreSQL store's address: a ``postgresql://`` URL that never shows its password.

``--store`` / ``SESSION_MCP_STORE`` take a file path (SQLite) or such a URL. The URL may carry a
password (``postgresql://user:secret@host/db``, or ``?password=``): ``str`` and ``repr`` drop it,
so settings, errors, ``store info`` and logs can show where the store is without what opens it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit

SCHEMES = ("postgresql", "postgres")
HIDDEN_PARAMETERS = ("password", "passfile", "sslpassword")


def is_database_url(text: str) -> bool:
    """Whether ``text`` names a PostgreSQL store rather than a file."""
    return text.strip().lower().startswith(tuple(f"{scheme}://" for scheme in SCHEMES))


class DatabaseURL:
    """A ``postgresql://`` URL; ``dsn`` is the whole of it, ``str``/``repr`` the part that may be shown."""

    __slots__ = ("_dsn", "shown")

    def __init__(self, url: str) -> None:
        url = url.strip()
        if not is_database_url(url):
            raise ValueError("a PostgreSQL store is a URL that starts with postgresql:// or postgres://")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            raise ValueError(
                "this PostgreSQL URL cannot be read: write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            ) from None
        self._dsn = url
        netloc = parts.hostname or ""
        if ":" in netloc:  # an IPv6 address
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        if parts.username:
            netloc = f"{quote(parts.username, safe='')}@{netloc}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in HIDDEN_PARAMETERS])
        self.shown = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")

    @property
    def dsn(self) -> str:
        """The URL as given, password included: for the driver only."""
        return self._dsn

    def hide(self, text: str) -> str:
        """``text`` with any password of this URL taken out (a driver's message may quote it)."""
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text

    def _secrets(self) -> list[str]:
        """Each secret as given and as it may be written (decoded, percent- or plus-encoded), longest first."""
        parts = urlsplit(self._dsn)
        given = [unquote(parts.password)] if parts.password else []
        given += [v for k, v in parse_qsl(parts.query) if k.lower() in HIDDEN_PARAMETERS and v]
        forms = {form for v in given for form in (v, quote(v, safe=""), quote(v), quote_plus(v))}
        forms |= {parts.password} if parts.password else set()
        # a one- or two-letter password would blank ordinary words: such a URL is shown, never its secret
        return sorted((f for f in forms if len(f) >= 3), key=len, reverse=True)

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"DatabaseURL({self.shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseURL) and other._dsn == self._dsn

    def __hash__(self) -> int:
        return hash(self._dsn)
