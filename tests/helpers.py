"""What tests share beyond fixtures: paths, constants, and helpers more than one suite uses."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: README.md, manifest.json, bench/
