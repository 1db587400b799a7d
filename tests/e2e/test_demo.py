"""`make demo` runs `ipsync-migrator demo`: the whole story, as a new user sees it."""

from __future__ import annotations

from typer.testing import CliRunner

from ipsync_migrator.cli import app


def test_demo_tells_the_whole_story() -> None:
    result = CliRunner().invoke(app, ["demo"])

    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long lines
    for chapter in (
        "1. Local AWS",
        "2. Discovery",
        "3. Migrations",
        "4. Roll one back",
        "5. Report",
    ):
        assert chapter in text
    assert "3 migrated, 1 rolled back, 1 finalized." in text
    assert "Legacy invocations retired: 51,840 per month" in text
    # and the team subscribed to the topic heard of every milestone
    assert (
        "3 Migration Started, 3 Migration Cut Over, 3 Migration Retired, 1 Migration Rolled "
        "Back, 1 Migration Finalized"
    ) in text
