"""The README documents the public contract: every Parquet column and finding kind, and the Quick start CI runs."""

from pathlib import Path

from farm.events import KINDS
from farm.schema import events_schema, kind_count_columns, tracks_schema

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_column_is_documented():
    for name in tracks_schema().names + events_schema().names:
        if name in kind_count_columns():
            continue
        assert f"| `{name}` |" in README, name


def test_every_kind_and_count_column_is_documented():
    for kind in KINDS:
        assert f"| `{kind}` |" in README, kind
        assert f"`n_{kind}`" in README, kind


def test_ci_runs_the_quick_start_test_command():
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    assert "farm demo" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()
