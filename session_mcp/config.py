"""Settings: environment variables and command-line flags, validated once at start-up.

A flag given on the command line overrides the environment. Every problem is a ``ConfigError``
with a one-line message the CLI prints instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from session_mcp.companion.client import DEFAULT_BASE_URL
from session_mcp.companion.http import is_header_safe
from session_mcp.errors import InvalidInputError
from session_mcp.sessions.scan import MAX_SCAN
from session_mcp.sessions.window_words import zone_name, zone_named
from session_mcp.store.base import StoreError
from session_mcp.store.files import default_path
from session_mcp.store.open import StoreLocation, location_of

Transport = Literal["stdio", "http"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# The groups of tools a host may load (--tools); which tool is in which lives in server/toolsets.py.
TOOLSETS = ("read", "search", "qa", "connect", "directory")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
MIN_CURSOR_SECRET = 16


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    demo: bool = False
    timeout: float = 30.0
    read_only: bool = False
    log_level: str = "WARNING"
    max_chars: int = 40_000
    concurrency: int = 8
    max_scan: int = MAX_SCAN  # list items one answer may scan for a time window or a client-side filter
    max_response_mb: int = 32
    redact_pii: bool = False
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    allow_remote: bool = False
    allowed_hosts: tuple[str, ...] = ()
    auth_token: SecretStr | None = None
    # Stateful Streamable HTTP sessions (legacy clients): each holds memory until it ends or idles out.
    max_sessions: int = 200
    session_idle_timeout: float = 300.0
    # The HTTP server's own sockets: a request's headers, then its body, must arrive within these
    # seconds, and at most this many connections are served at once (the rest get 503).
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000
    qa_rules: Path | None = None  # the QA rules file of the review tool and prompts
    # Signs list cursors; unset: a random secret per process. HTTP replicas behind one address share one.
    cursor_secret: SecretStr | None = None
    # The session store: a file (SQLite) or a postgresql:// URL (shown without its password); unset: a file
    # in the platform's data folder (see store_path).
    store: StoreLocation | None = None
    no_store: bool = False
    retain_days: int = 90  # stored sessions older than this (list time) are deleted after each sync; 0 keeps all
    toolsets: tuple[str, ...] = TOOLSETS  # the groups of tools served (--tools); all by default
    log_format: Literal["text", "json"] = "text"  # json: one object per line on stderr
    timezone: str = "UTC"  # the IANA zone of windows in words and of the times answers show

    def store_path(self, env: Mapping[str, str]) -> StoreLocation | None:
        """The store's file or URL, or ``None``: ``--no-store``; with ``--demo`` only a ``--store`` given is used."""
        if self.no_store or (self.demo and self.store is None):
            return None
        return self.store or default_path(env)

    def __repr__(self) -> str:
        # dataclass repr would be safe with SecretStr, but say so explicitly.
        shown = {k: v for k, v in self.__dict__.items() if k not in ("api_key", "auth_token", "cursor_secret")}
        return f"Settings({shown}, api_key={'set' if self.api_key else 'unset'})"


# Each setting: (environment variable, parser). Flags use the same names as Settings fields.
ENVIRONMENT: dict[str, str] = {
    "api_key": "NAPSTER_API_KEY",
    "base_url": "NAPSTER_API_BASE_URL",
    "demo": "SESSION_MCP_DEMO",
    "timeout": "SESSION_MCP_TIMEOUT",
    "read_only": "SESSION_MCP_READ_ONLY",
    "log_level": "SESSION_MCP_LOG_LEVEL",
    "max_chars": "SESSION_MCP_MAX_CHARS",
    "concurrency": "SESSION_MCP_CONCURRENCY",
    "max_scan": "SESSION_MCP_MAX_SCAN",
    "max_response_mb": "SESSION_MCP_MAX_RESPONSE_MB",
    "redact_pii": "SESSION_MCP_REDACT_PII",
    "auth_token": "SESSION_MCP_AUTH_TOKEN",
    "allowed_hosts": "SESSION_MCP_ALLOWED_HOSTS",
    "max_sessions": "SESSION_MCP_MAX_SESSIONS",
    "session_idle_timeout": "SESSION_MCP_SESSION_IDLE_TIMEOUT",
    "header_timeout": "SESSION_MCP_HEADER_TIMEOUT",
    "body_timeout": "SESSION_MCP_BODY_TIMEOUT",
    "max_connections": "SESSION_MCP_MAX_CONNECTIONS",
    "transport": "SESSION_MCP_TRANSPORT",
    "host": "SESSION_MCP_HOST",
    "port": "SESSION_MCP_PORT",
    "allow_remote": "SESSION_MCP_ALLOW_REMOTE",
    "qa_rules": "SESSION_MCP_QA_RULES",
    "cursor_secret": "SESSION_MCP_CURSOR_SECRET",
    "store": "SESSION_MCP_STORE",
    "no_store": "SESSION_MCP_NO_STORE",
    "retain_days": "SESSION_MCP_RETAIN_DAYS",
    "toolsets": "SESSION_MCP_TOOLS",
    "log_format": "SESSION_MCP_LOG_FORMAT",
    "timezone": "SESSION_MCP_TIMEZONE",
}


# Set to 1 by manifest.json's mcp_config: the host (Claude Desktop) started the server from the MCP
# Bundle, where settings are made in the extension's settings page, not in environment variables.
FROM_BUNDLE = "SESSION_MCP_FROM_BUNDLE"


def load_settings(flags: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Settings from ``flags`` (``None`` = not given) over ``env``; raises ``ConfigError``."""
    raw: dict[str, Any] = {}
    for name, variable in ENVIRONMENT.items():
        value = env.get(variable)
        if value is not None and value.strip() != "" and not _unfilled_placeholder(value):
            raw[name] = (variable, value.strip())
    for name, value in flags.items():
        if value is not None:
            raw[name] = (f"--{name.replace('_', '-')}", value)
    values: dict[str, Any] = {}
    for name, (source, value) in raw.items():
        values[name] = _parse(name, source, value)
    settings = Settings(**values)
    # Over HTTP a shared server may have no key of its own: each request then brings one.
    if not settings.demo and settings.api_key is None and settings.transport != "http":
        if env.get(FROM_BUNDLE, "").strip().lower() in TRUE_WORDS:
            raise ConfigError(
                "No Companion API key: set the API key in the extension settings, or turn on demo mode to try "
                "the built-in simulator without one."
            )
        raise ConfigError(
            "NAPSTER_API_KEY is not set: export your Companion API key (or pass --demo to try the built-in "
            "simulator without one)."
        )
    if settings.host not in LOOPBACK_HOSTS and not settings.allow_remote:
        raise ConfigError(
            f"--host {settings.host} would expose the server beyond this machine: add --allow-remote to confirm "
            "(and set SESSION_MCP_AUTH_TOKEN to protect it)."
        )
    return settings


def authority(host: str, port: int) -> str:
    """``host:port`` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _unfilled_placeholder(value: str) -> bool:
    """A host's ``${user_config.x}`` template left as it was: the setting was never filled in.

    MCP Bundle hosts substitute ``${user_config.KEY}`` from the extension settings but leave the text
    as it is when an optional setting has neither a value nor a default; it must not pass for a key.
    """
    text = value.strip()
    return text.startswith("${") and text.endswith("}")


def _parse(name: str, source: str, value: Any) -> Any:
    parsers = {
        "api_key": _secret,
        "auth_token": _secret,
        "cursor_secret": _cursor_secret,
        "base_url": _url,
        "timeout": lambda s, v: _number(s, v, float, 0.1, 600),
        "max_chars": lambda s, v: _number(s, v, int, 2_000, 2_000_000),
        "concurrency": lambda s, v: _number(s, v, int, 1, 64),
        "max_scan": lambda s, v: _number(s, v, int, 100, 1_000_000),
        "max_response_mb": lambda s, v: _number(s, v, int, 1, 1024),
        "port": lambda s, v: _number(s, v, int, 0, 65_535),
        "max_sessions": lambda s, v: _number(s, v, int, 1, 100_000),
        "session_idle_timeout": lambda s, v: _number(s, v, float, 1, 86_400),
        "header_timeout": lambda s, v: _number(s, v, float, 0.5, 600),
        "body_timeout": lambda s, v: _number(s, v, float, 0.5, 3_600),
        "max_connections": lambda s, v: _number(s, v, int, 1, 100_000),
        "retain_days": lambda s, v: _number(s, v, int, 0, 36_500),
        "log_level": _log_level,
        "log_format": _log_format,
        "toolsets": _toolsets,
        "transport": _transport,
        "allowed_hosts": _hosts,
        "qa_rules": _file_path,
        "store": _store_location,
        "timezone": _timezone,
    }
    if name in ("demo", "read_only", "redact_pii", "allow_remote", "no_store"):
        return _flag(source, value)
    parser = parsers.get(name)
    return parser(source, value) if parser else value


def _flag(source: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{source} must be true or false (1/0, yes/no), not {value!r}.")


def _secret(source: str, value: Any) -> SecretStr:
    text = str(value)
    if not is_header_safe(text):
        raise ConfigError(f"{source} holds spaces, control or non-ASCII characters: check how it was pasted.")
    return SecretStr(text)


def _cursor_secret(source: str, value: Any) -> SecretStr:
    """At least 16 characters: a short secret could be guessed, and with it cursors forged."""
    text = str(value)
    if len(text) < MIN_CURSOR_SECRET:
        raise ConfigError(
            f"{source} is too short: give at least {MIN_CURSOR_SECRET} random characters (e.g. `openssl rand -hex 32`)."
        )
    return SecretStr(text)


def _url(source: str, value: Any) -> str:
    text = str(value).rstrip("/")
    if not text.startswith(("https://", "http://")) or len(text) < 9:
        raise ConfigError(f"{source} must be an http(s) URL such as {DEFAULT_BASE_URL}, not {text!r}.")
    return text


def _number(source: str, value: Any, kind: type[int] | type[float], low: float, high: float) -> int | float:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source} must be a number, not {value!r}.") from None
    if not low <= number <= high:
        raise ConfigError(f"{source} must be between {low:g} and {high:g}, not {number}.")
    return number


def _hosts(source: str, value: Any) -> tuple[str, ...]:
    """Host names (optionally ``name:port`` or ``name:*``) from a list or a comma-separated string."""
    names = value if isinstance(value, list | tuple) else str(value).split(",")
    hosts = tuple(name.strip() for name in names if name.strip())
    bad = [h for h in hosts if any(c.isspace() or c in "/@?#" for c in h)]
    if bad:
        raise ConfigError(f"{source}: {bad[0]!r} is not a host name (use e.g. mcp.example.com or mcp.example.com:*).")
    return hosts


def _file_path(source: str, value: Any) -> Path:
    """A file's path, ``~`` expanded: the QA rules (the command line loads them right after the settings:
    config knows no QA)."""
    return Path(str(value)).expanduser()


def _store_location(source: str, value: Any) -> StoreLocation:
    """A store's file (``~`` expanded), or a PostgreSQL URL, checked enough to be shown without its password."""
    try:
        return location_of(str(value))
    except StoreError as exc:
        raise ConfigError(f"{source}: {exc}.") from None


def _timezone(source: str, value: Any) -> str:
    """An IANA zone name, as the zone database spells it: refused at start-up, not at the first window."""
    try:
        return zone_name(zone_named(str(value)))
    except InvalidInputError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _transport(source: str, value: Any) -> str:
    transport = str(value).lower()
    if transport not in ("stdio", "http"):
        raise ConfigError(f"{source} must be stdio or http, not {value!r}.")
    return transport


def _log_level(source: str, value: Any) -> str:
    level = str(value).upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{source} must be one of {', '.join(LOG_LEVELS)}, not {value!r}.")
    return level


def _log_format(source: str, value: Any) -> str:
    word = str(value).strip().lower()
    if word not in LOG_FORMATS:
        raise ConfigError(f"{source} must be {' or '.join(LOG_FORMATS)}, not {value!r}.")
    return word


def _toolsets(source: str, value: Any) -> tuple[str, ...]:
    """Toolset names from a comma list (``all``: every one), in the stated order, each once."""
    names = {name.strip().lower() for name in str(value).split(",") if name.strip()}
    if "all" in names:
        return TOOLSETS
    unknown = sorted(names - set(TOOLSETS))
    if unknown or not names:
        what = f"unknown toolset {', '.join(repr(n) for n in unknown)}" if unknown else "no toolset named"
        raise ConfigError(f"{source}: {what}; give a comma list of {', '.join(TOOLSETS)}, or all.")
    return tuple(name for name in TOOLSETS if name in names)
