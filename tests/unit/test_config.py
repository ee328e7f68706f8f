"""Settings: environment and flags, validated once, every problem a one-line ``ConfigError``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from session_mcp.config import ConfigError, Settings, load_settings
from tests.helpers import ROOT, clean_environment, run_main

pytestmark = pytest.mark.anyio

KEY = "nk_live_7Hq2pZ9xV4"
ENV = {"NAPSTER_API_KEY": KEY}


def no_flags(**given: Any) -> dict[str, Any]:
    """Flags as the CLI passes them: every name present, ``None`` when not given."""
    names = ("demo", "base_url", "timeout", "redact_pii", "log_level", "transport", "host", "port")
    return {name: given.get(name) for name in names} | {k: v for k, v in given.items() if k not in names}


def test_defaults_with_only_a_key() -> None:
    settings = load_settings(no_flags(), ENV)
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == KEY
    assert settings == Settings(api_key=SecretStr(KEY))
    assert settings.base_url == "https://companion-api.napster.com"
    assert settings.read_only is False
    assert settings.host == "127.0.0.1"


def test_environment_values_are_parsed() -> None:
    env = {
        **ENV,
        "NAPSTER_API_BASE_URL": "http://127.0.0.1:8787/",
        "SESSION_MCP_TIMEOUT": " 12.5 ",
        "SESSION_MCP_READ_ONLY": "Yes",
        "SESSION_MCP_REDACT_PII": "1",
        "SESSION_MCP_LOG_LEVEL": "debug",
        "SESSION_MCP_MAX_CHARS": "5000",
        "SESSION_MCP_CONCURRENCY": "4",
        "SESSION_MCP_MAX_RESPONSE_MB": "64",
        "SESSION_MCP_AUTH_TOKEN": "tok_abc",
        "SESSION_MCP_TRANSPORT": "HTTP",
        "SESSION_MCP_HOST": "::1",
        "SESSION_MCP_PORT": "9001",
        "SESSION_MCP_ALLOW_REMOTE": "off",
    }
    settings = load_settings(no_flags(), env)
    assert (settings.transport, settings.host, settings.port, settings.allow_remote) == ("http", "::1", 9001, False)
    assert settings.base_url == "http://127.0.0.1:8787"  # trailing slash dropped
    assert settings.timeout == 12.5
    assert settings.read_only is True
    assert settings.redact_pii is True
    assert settings.log_level == "DEBUG"
    assert settings.max_chars == 5000
    assert isinstance(settings.max_chars, int)
    assert settings.concurrency == 4
    assert settings.max_response_mb == 64
    assert settings.auth_token is not None and settings.auth_token.get_secret_value() == "tok_abc"


def test_blank_environment_values_count_as_unset() -> None:
    settings = load_settings(no_flags(), {**ENV, "SESSION_MCP_TIMEOUT": "  ", "SESSION_MCP_READ_ONLY": ""})
    assert settings.timeout == Settings().timeout
    assert settings.read_only is False


@pytest.mark.parametrize(
    ("flag", "flag_value", "variable", "env_value", "field", "expected"),
    [
        ("timeout", 5.0, "SESSION_MCP_TIMEOUT", "60", "timeout", 5.0),
        (
            "base_url",
            "http://localhost:9000",
            "NAPSTER_API_BASE_URL",
            "https://x.example.com",
            "base_url",
            "http://localhost:9000",
        ),
        ("log_level", "ERROR", "SESSION_MCP_LOG_LEVEL", "DEBUG", "log_level", "ERROR"),
        ("read_only", True, "SESSION_MCP_READ_ONLY", "false", "read_only", True),
        ("demo", True, "SESSION_MCP_DEMO", "0", "demo", True),
        ("redact_pii", True, "SESSION_MCP_REDACT_PII", "no", "redact_pii", True),
    ],
)
def test_flags_override_environment(
    flag: str, flag_value: Any, variable: str, env_value: str, field: str, expected: Any
) -> None:
    settings = load_settings(no_flags(**{flag: flag_value}), {**ENV, variable: env_value})
    assert getattr(settings, field) == expected
    # ... and a flag that was not given (None) leaves the environment in charge.
    from_env = load_settings(no_flags(), {**ENV, variable: env_value})
    assert getattr(from_env, field) != expected


def test_missing_key_without_demo_is_one_clear_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(no_flags(), {})
    message = str(caught.value)
    assert "NAPSTER_API_KEY" in message
    assert "--demo" in message
    assert "\n" not in message


def bundle_env(**user_config: str) -> dict[str, str]:
    """The environment manifest.json's mcp_config gives the server, ``${user_config.KEY}`` filled in.

    Each value comes from ``user_config`` or the manifest's default (booleans as "true"/"false", as
    the host writes them); a key with neither stays as the ``${...}`` text, as the host leaves it.
    """
    manifest = json.loads((ROOT / "manifest.json").read_text())
    values = {key: option.get("default") for key, option in manifest["user_config"].items()} | user_config
    env: dict[str, str] = {}
    for variable, template in manifest["server"]["mcp_config"]["env"].items():
        filled = template
        for key, value in values.items():
            if value is not None:
                word = str(value).lower() if isinstance(value, bool) else str(value)
                filled = filled.replace(f"${{user_config.{key}}}", word)
        env[variable] = filled
    return env


@pytest.mark.parametrize(
    "env",
    [bundle_env(), bundle_env(api_key="${user_config.api_key}"), {"SESSION_MCP_FROM_BUNDLE": "1"}],
    ids=["key-left-empty", "key-placeholder-left-unfilled", "marker-only"],
)
def test_missing_key_in_the_bundle_points_to_the_extension_settings(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(no_flags(), env)
    message = str(caught.value)
    assert "extension settings" in message
    assert "demo mode" in message
    assert "export" not in message and "--demo" not in message  # a bundle user has no shell to export from
    assert "\n" not in message


def test_the_bundle_with_demo_on_or_a_key_starts() -> None:
    assert load_settings(no_flags(), bundle_env(demo="true")).demo is True
    settings = load_settings(no_flags(), bundle_env(api_key=KEY))
    assert settings.api_key is not None and settings.api_key.get_secret_value() == KEY
    assert settings.read_only is True  # the manifest's default


def test_unfilled_host_placeholders_count_as_unset() -> None:
    env = {"NAPSTER_API_KEY": " ${user_config.api_key} ", "SESSION_MCP_DEMO": "${user_config.demo}"}
    with pytest.raises(ConfigError, match="NAPSTER_API_KEY is not set"):
        load_settings(no_flags(), env)
    assert load_settings(no_flags(demo=True), env).api_key is None


@pytest.mark.parametrize(
    ("flags", "env"),
    [({"demo": True}, {}), ({}, {"SESSION_MCP_DEMO": "true"})],
)
def test_demo_needs_no_key(flags: dict[str, Any], env: dict[str, str]) -> None:
    settings = load_settings(no_flags(**flags), env)
    assert settings.demo is True
    assert settings.api_key is None


def test_http_may_serve_without_a_key_of_its_own() -> None:
    # each request then brings its own key in X-Napster-Api-Key
    assert load_settings(no_flags(transport="http"), {}).api_key is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SESSION_MCP_TIMEOUT", "abc"),
        ("SESSION_MCP_TIMEOUT", "0"),
        ("SESSION_MCP_TIMEOUT", "nan"),
        ("SESSION_MCP_TIMEOUT", "inf"),
        ("SESSION_MCP_TIMEOUT", "-5"),
        ("SESSION_MCP_MAX_CHARS", "10"),
        ("SESSION_MCP_MAX_CHARS", "12.5"),
        ("SESSION_MCP_CONCURRENCY", "0"),
        ("SESSION_MCP_CONCURRENCY", "1000"),
        ("SESSION_MCP_MAX_RESPONSE_MB", "lots"),
        ("SESSION_MCP_READ_ONLY", "maybe"),
        ("SESSION_MCP_DEMO", "2"),
        ("SESSION_MCP_REDACT_PII", "enabled"),
        ("NAPSTER_API_BASE_URL", "ftp://companion-api.napster.com"),
        ("NAPSTER_API_BASE_URL", "companion-api.napster.com"),
        ("NAPSTER_API_BASE_URL", "http://"),
        ("SESSION_MCP_LOG_LEVEL", "verbose"),
        ("SESSION_MCP_LOG_LEVEL", "5"),
    ],
)
def test_bad_environment_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(no_flags(), {**ENV, variable: value})
    message = str(caught.value)
    assert message.startswith(variable), message
    assert "\n" not in message
    assert KEY not in message


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"port": 70_000}, "--port"),
        ({"port": -1}, "--port"),
        ({"timeout": 0.0}, "--timeout"),
        ({"log_level": "loud"}, "--log-level"),
        ({"base_url": "localhost:8000"}, "--base-url"),
    ],
)
def test_bad_flag_values_name_the_flag(flags: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(no_flags(**flags), ENV)
    assert str(caught.value).startswith(named)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("key", ["nk live", "nk_live\n", "nk\tlive", "nk\x00live"])
def test_key_with_whitespace_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(no_flags(), {"NAPSTER_API_KEY": f"{key}x"})
    message = str(caught.value)
    assert message.startswith("NAPSTER_API_KEY")
    assert "nk" not in message.split(" ", 1)[1]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com"])
def test_non_loopback_host_needs_allow_remote(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(no_flags(host=host), ENV)
    assert "--allow-remote" in str(caught.value)
    assert host in str(caught.value)
    assert "\n" not in str(caught.value)
    settings = load_settings(no_flags(host=host, allow_remote=True), ENV)
    assert settings.host == host
    assert settings.allow_remote is True


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_hosts_need_nothing(host: str) -> None:
    assert load_settings(no_flags(host=host), ENV).host == host


def test_repr_shows_no_secret() -> None:
    settings = Settings(api_key=SecretStr(KEY), auth_token=SecretStr("tok_do_not_show"))
    for shown in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert KEY not in shown
        assert "tok_do_not_show" not in shown
    assert "api_key=set" in repr(settings)
    assert "api_key=unset" in repr(Settings())
    loaded = load_settings(no_flags(), {**ENV, "SESSION_MCP_AUTH_TOKEN": "tok_do_not_show"})
    assert KEY not in repr(loaded)
    assert "tok_do_not_show" not in repr(loaded)


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.read_only = True  # type: ignore[misc]


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "extra", "names"),
    [
        ([], {}, "NAPSTER_API_KEY"),
        (["--demo"], {"SESSION_MCP_TIMEOUT": "soon"}, "SESSION_MCP_TIMEOUT"),
        (["--demo", "--host", "0.0.0.0"], {}, "--allow-remote"),
        ([], {"SESSION_MCP_FROM_BUNDLE": "1", "NAPSTER_API_KEY": ""}, "extension settings"),
    ],
    ids=["no-key", "bad-number", "remote-host", "bundle-no-key"],
)
def test_cli_configuration_errors_are_one_line_and_no_traceback(
    args: list[str], extra: dict[str, str], names: str
) -> None:
    done = run_main(*args, env=clean_environment(**extra))
    assert done.returncode == 2  # usage or fatal error
    assert done.stdout == ""  # stdout belongs to the protocol
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert names in lines[0]
    assert lines[0].startswith("session-mcp: ")
    assert "Traceback" not in done.stderr


def test_http_session_bounds_from_the_environment_and_flags() -> None:
    assert (Settings().max_sessions, Settings().session_idle_timeout) == (200, 300.0)  # far below the SDK's 10,000
    env = {**ENV, "SESSION_MCP_MAX_SESSIONS": "50", "SESSION_MCP_SESSION_IDLE_TIMEOUT": "90"}
    settings = load_settings(no_flags(), env)
    assert (settings.max_sessions, settings.session_idle_timeout) == (50, 90.0)
    flagged = load_settings(no_flags(max_sessions=7, session_idle_timeout=30.5), env)
    assert (flagged.max_sessions, flagged.session_idle_timeout) == (7, 30.5)
    for name, value in (("SESSION_MCP_MAX_SESSIONS", "0"), ("SESSION_MCP_SESSION_IDLE_TIMEOUT", "forever")):
        with pytest.raises(ConfigError, match=name):
            load_settings(no_flags(), {**ENV, name: value})


def test_http_session_flags_reach_the_settings() -> None:
    from session_mcp.cli.main import SETTING_FLAGS, build_parser

    args = build_parser().parse_args(["--max-sessions", "12", "--session-idle-timeout", "45"])
    settings = load_settings({name: getattr(args, name, None) for name in SETTING_FLAGS}, ENV)
    assert (settings.max_sessions, settings.session_idle_timeout) == (12, 45.0)
