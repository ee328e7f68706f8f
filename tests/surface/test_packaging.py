"""Release metadata: server.json (MCP registry), pyproject.toml (PyPI), manifest.json (MCP Bundle) agree.

``tests/data/server.schema.json`` is a byte-for-byte copy of the registry's schema as published at
https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json (the source is
github.com/modelcontextprotocol/static, ``schemas/2025-12-11/server.schema.json`` at commit
a9ba437d9fbbe92076a24b20d56449ac7c7786ac). CI has no internet, so the copy is pinned by its sha256;
moving to a newer schema means replacing the file, ``SCHEMA_SHA256`` and ``$schema`` together.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

import session_mcp
from session_mcp.config import ENVIRONMENT, LOG_LEVELS, Settings, load_settings
from tests.helpers import ROOT

SCHEMA_PATH = ROOT / "tests" / "data" / "server.schema.json"
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
# Settings that matter only to `--transport http` (or choose it); the registry entry describes the
# stdio package.
HTTP_ONLY = {
    "SESSION_MCP_AUTH_TOKEN",
    "SESSION_MCP_ALLOWED_HOSTS",
    "SESSION_MCP_MAX_SESSIONS",
    "SESSION_MCP_SESSION_IDLE_TIMEOUT",
    "SESSION_MCP_MAX_CONNECTIONS",
    "SESSION_MCP_HEADER_TIMEOUT",
    "SESSION_MCP_BODY_TIMEOUT",
    "SESSION_MCP_TRANSPORT",
    "SESSION_MCP_HOST",
    "SESSION_MCP_PORT",
    "SESSION_MCP_ALLOW_REMOTE",
    "SESSION_MCP_CURSOR_SECRET",  # shared by HTTP replicas; one stdio process needs none
}


def load_json(name: str) -> Any:
    return json.loads((ROOT / name).read_text(encoding="utf-8"))


SERVER = load_json("server.json")
MANIFEST = load_json("manifest.json")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SCHEMA = json.loads(SCHEMA_PATH.read_bytes())
PACKAGE = SERVER["packages"][0]


def test_the_vendored_schema_is_the_published_one() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert SCHEMA["$id"] == SCHEMA_URL
    assert SERVER["$schema"] == SCHEMA_URL


def test_server_json_is_valid_against_the_registry_schema() -> None:
    validator = Draft7Validator(SCHEMA, format_checker=FormatChecker())
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '/'}: {e.message}" for e in validator.iter_errors(SERVER)]
    assert problems == []


def test_the_schema_check_catches_what_the_registry_refuses() -> None:
    """The validation above can fail: the registry's own limits are in the copy."""
    validator = Draft7Validator(SCHEMA, format_checker=FormatChecker())
    too_long = SERVER | {"description": "x" * 101}
    bad_name = SERVER | {"name": "session-mcp"}
    latest = SERVER | {"packages": [PACKAGE | {"version": "latest"}]}
    for document in (too_long, bad_name, latest):
        assert not validator.is_valid(document)


def known_fields(definition: str) -> set[str]:
    """Property names a schema definition allows, through its allOf parts."""
    node = SCHEMA["definitions"][definition]
    fields = set(node.get("properties", {}))
    for part in node.get("allOf", []):
        if "$ref" in part:
            fields |= known_fields(part["$ref"].rsplit("/", 1)[1])
        fields |= set(part.get("properties", {}))
    return fields


def test_server_json_has_no_field_the_schema_does_not_know() -> None:
    # The published schema allows unknown fields, so a misspelt one ("isSecrets") would pass unseen.
    assert set(SERVER) <= known_fields("ServerDetail")
    assert set(PACKAGE) <= known_fields("Package")
    for variable in PACKAGE["environmentVariables"]:
        assert set(variable) <= known_fields("KeyValueInput"), variable["name"]


def test_every_version_is_the_same() -> None:
    versions = {
        "pyproject.toml": PYPROJECT["version"],
        "session_mcp.__version__": session_mcp.__version__,
        "manifest.json": MANIFEST["version"],
        "server.json": SERVER["version"],
        "server.json package": PACKAGE["version"],
    }
    assert len(set(versions.values())) == 1, versions


def test_names_and_addresses_agree() -> None:
    urls = PYPROJECT["urls"]
    owner_repo = urls["Repository"].removeprefix("https://github.com/")
    owner, repo = owner_repo.split("/")
    assert SERVER["name"] == f"io.github.{owner}/{repo}"  # the registry proves io.github.OWNER by GitHub login
    assert SERVER["repository"] == {"url": urls["Repository"], "source": "github"}
    assert SERVER["websiteUrl"] == urls["Homepage"]
    assert urls["Issues"] == f"{urls['Repository']}/issues"
    assert MANIFEST["repository"] == {"type": "git", "url": urls["Repository"]}
    assert PACKAGE["identifier"] == PYPROJECT["name"] == MANIFEST["name"]
    assert PACKAGE["registryType"] == "pypi" and PACKAGE["runtimeHint"] == "uvx"
    assert PACKAGE["transport"] == {"type": "stdio"}


def test_the_readme_carries_the_registry_name() -> None:
    # The registry proves ownership of the PyPI package by this line in the published README.
    assert f"mcp-name: {SERVER['name']}" in (ROOT / PYPROJECT["readme"]).read_text(encoding="utf-8")


def test_the_registry_lists_every_stdio_setting_and_no_other() -> None:
    listed = [variable["name"] for variable in PACKAGE["environmentVariables"]]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(ENVIRONMENT.values()) - HTTP_ONLY


@pytest.mark.parametrize(
    "variable", [v for v in PACKAGE["environmentVariables"] if "default" in v], ids=lambda v: v["name"]
)
def test_registry_defaults_are_the_server_defaults(variable: dict[str, Any]) -> None:
    field = next(name for name, env_name in ENVIRONMENT.items() if env_name == variable["name"])
    parsed = load_settings({}, {"NAPSTER_API_KEY": "k", variable["name"]: variable["default"]})
    assert getattr(parsed, field) == getattr(Settings(), field)


def test_the_key_is_a_required_secret_and_choices_are_the_servers() -> None:
    by_name = {variable["name"]: variable for variable in PACKAGE["environmentVariables"]}
    assert by_name["NAPSTER_API_KEY"]["isRequired"] is True
    assert by_name["NAPSTER_API_KEY"]["isSecret"] is True
    assert [name for name, v in by_name.items() if v.get("isSecret")] == ["NAPSTER_API_KEY"]
    assert tuple(by_name["SESSION_MCP_LOG_LEVEL"]["choices"]) == LOG_LEVELS


def test_the_bundle_starts_pinned_and_says_it_is_the_bundle() -> None:
    config = MANIFEST["server"]["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"] == ["run", "--frozen", "--directory", "${__dirname}", "session-mcp"]
    assert config["env"]["SESSION_MCP_FROM_BUNDLE"] == "1"
    # Every other variable is a setting the server reads, filled from the extension settings.
    others = {name: value for name, value in config["env"].items() if name != "SESSION_MCP_FROM_BUNDLE"}
    assert set(others) <= set(ENVIRONMENT.values())
    for value in others.values():
        key = value.removeprefix("${user_config.").removesuffix("}")
        assert "default" in MANIFEST["user_config"][key], key  # else the host passes the ${...} text
    assert (ROOT / "uv.lock").is_file()
    assert (ROOT / MANIFEST["server"]["entry_point"]).is_file()
