"""The README's example session, run as written against the local runtime, so it stays true.

The block is read from README.md (the one after its `README example` marker), not copied
here. Each line runs in one bash session, as a person pastes it, and must exit with the code
its `# exit N` comment says (0 without one). Only the endpoint is the test's own: the README
names `ipsync-migrator local`'s default port, the test's runtime has a free one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ipsync_migrator.local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- README example: run by tests/e2e/test_readme.py -->"
README_ENDPOINT = "http://127.0.0.1:4566"
EXPECTED_EXIT = re.compile(r"#\s*exit (\d+)")


def readme_example() -> list[str]:
    """The command lines of the README's marked bash block."""
    text = (ROOT / "README.md").read_text()
    assert MARKER in text, "README.md lost its example marker"
    block = text.split(MARKER, 1)[1]
    match = re.match(r"\s*```bash\n(.*?)\n```", block, re.DOTALL)
    assert match, "the README example marker is not followed by a bash block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def checked_script(lines: list[str], endpoint: str) -> str:
    """The lines as one bash script that stops at the first exit code the README denies."""
    script = []
    for number, line in enumerate(lines, 1):
        expected = EXPECTED_EXIT.search(line)
        code = expected.group(1) if expected else "0"
        shown = line.replace("'", "'\\''")
        script += [
            f"echo '>>> {shown}'",
            line.replace(README_ENDPOINT, endpoint),
            f'rc=$?; if [ "$rc" != {code} ]; then '
            f"echo 'README example line {number} exited '$rc', it says {code}' >&2; exit 99; fi",
        ]
    return "\n".join(script) + "\n"


def test_the_readme_example_session_runs_as_written() -> None:
    # Given the README's example, and a local runtime with the demo estate
    lines = readme_example()
    assert any(README_ENDPOINT in line for line in lines)
    with LocalRuntime(port=0, seed="demo") as runtime:
        assert runtime.region in lines[0]
        # When it runs in bash, with this checkout's ipsync-migrator first on the PATH
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "COLUMNS": "120",
        }
        for name in ("AWS_DEFAULT_OUTPUT", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
            env.pop(name, None)
        completed = subprocess.run(
            ["bash", "-c", checked_script(lines, runtime.endpoint)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    # Then every line exits as the README says, with no traceback anywhere
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    assert "Traceback" not in output, output[-6000:]
    # and what it shows is what the README says it shows: the migration ran, then rolled back
    assert re.search(r"^state: retired$|^state: rolled_back$", completed.stdout, re.M), output
    assert ": rolled_back\n" in completed.stdout, output[-6000:]
