"""Benchmark the release artefact: size per function with its layers, cold import per handler.

Run with `make bench` (after `make build`), or `.venv/bin/python -m bench.artefact
--write-docs` to refresh the artefact section of docs/benchmarks.md. Each handler is
imported in a new process of the stand-in for Lambda's python3.13 (a venv holding only
boto3, tests/release/artefact.py), with the environment Lambda sets, the way a cold Lambda
Init imports it; the import is timed inside the process. `import boto3` is timed the same
way in the same interpreter, in the same rounds, and every handler is reported as a ratio to
it (issue 13: at most 2.0x). `-X importtime` of the slowest handler shows where its time goes.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from tests.release.artefact import (
    MAX_FUNCTION_BYTES,
    TIMED_MARKER,
    BuiltArtefact,
    BuiltFunction,
    LambdaPython,
    build_dir,
    find_lambda_python,
    size_problems,
    tree_size,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## Release artefact"
RUNS = 7
#: Issue 13: every handler's cold import at most this many times `import boto3`'s.
MAX_IMPORT_RATIO = 2.0
BASELINE = "import boto3"


def zipped_size(directory: Path) -> int:
    """Bytes zipped, as `sam deploy` uploads the directory."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(directory.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(directory).as_posix())
    return len(buffer.getvalue())


def mb(size: int) -> str:
    return f"{size / 1e6:.2f}"


@dataclass
class Imports:
    """Cold imports of one handler (or of boto3 alone): CPU and wall seconds per run."""

    name: str
    cpu: list[float]
    wall: list[float]

    def add(self, outcome: dict[str, Any]) -> None:
        self.cpu.append(outcome["importCpuSeconds"])
        self.wall.append(outcome["importSeconds"])

    @property
    def median(self) -> float:
        """The median CPU time: what the machine's other load changes least."""
        return statistics.median(self.cpu)


class Stand:
    """The python3.13 stand-in with each layer's host-native overlay (tests/release)."""

    def __init__(self, artefact: BuiltArtefact, scratch: Path) -> None:
        self.python = LambdaPython(scratch / "venv", find_lambda_python())
        architectures = {layer: f.architecture for f in artefact.functions for layer in f.layers}
        self.overlays = {
            layer: self.python.native_overlay(layer, arch, scratch / f"native-{layer.name}")
            for layer, arch in architectures.items()
        }

    def paths(self, function: BuiltFunction) -> list[Path]:
        paths = []
        for path in function.python_paths:
            overlay = self.overlays.get(path.parent)
            paths += [overlay, path] if overlay else [path]
        return paths

    def cold_import(
        self, function: BuiltFunction, handler: str | None, flags: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """One cold import of ``handler`` (None: `import boto3`) in a new process."""
        request = {"imports": [handler]} if handler else {"modules": ["boto3"]}
        outcome = self.python.run(
            self.paths(function), request, env=function.environment(), flags=flags
        )
        assert not outcome["failures"], outcome["failures"]
        return outcome


def size_lines(artefact: BuiltArtefact) -> list[str]:
    lines = [
        "| part | files (MB) | zipped (MB) |",
        "|---|---:|---:|",
    ]
    for name, layer in sorted(artefact.layer_dirs().items()):
        lines.append(f"| layer {name} | {mb(tree_size(layer))} | {mb(zipped_size(layer))} |")
    for function in artefact.functions:
        code = function.code
        lines.append(f"| {function.logical_id} | {mb(tree_size(code))} | {mb(zipped_size(code))} |")
    sizes = {f.logical_id: f.size() for f in artefact.functions}
    largest = max(sizes, key=sizes.__getitem__)
    botocore = [p for f in artefact.functions for p in size_problems(f) if "botocore" in p]
    lines += [
        "",
        f"- Largest function with its layers, unzipped: **{mb(sizes[largest])} MB** ({largest}); "
        f"goal at most {mb(MAX_FUNCTION_BYTES)} MB: "
        f"{'met' if sizes[largest] <= MAX_FUNCTION_BYTES else 'NOT met'}.",
        f"- botocore shipped by a function or layer: {'; '.join(botocore) or 'none'} "
        "(the runtime's is the only one).",
    ]
    return lines


def import_lines(artefact: BuiltArtefact, stand: Stand) -> tuple[list[str], BuiltFunction]:
    functions = artefact.functions
    # boto3 is timed with the first function's paths: it comes from the runtime either way.
    baseline = Imports(BASELINE, [], [])
    handlers = {f.logical_id: Imports(f.handler, [], []) for f in functions}
    for _ in range(RUNS):  # interleaved, so the machine's load drifts over every row alike
        baseline.add(stand.cold_import(functions[0], None))
        for function in functions:
            handlers[function.logical_id].add(stand.cold_import(function, function.handler))
    lines = [
        "| import | CPU median (ms) | CPU max (ms) | wall median (ms) | ratio to `import boto3` |",
        "|---|---:|---:|---:|---:|",
    ]
    for imports in (baseline, *handlers.values()):
        name = f"`{imports.name}`" if imports is baseline else imports.name
        lines.append(
            f"| {name} | {imports.median * 1000:.0f} | {max(imports.cpu) * 1000:.0f} | "
            f"{statistics.median(imports.wall) * 1000:.0f} | "
            f"{imports.median / baseline.median:.2f} |"
        )
    slowest_id = max(handlers, key=lambda name: handlers[name].median)
    worst = handlers[slowest_id].median / baseline.median
    lines += [
        "",
        f"- Slowest handler: {handlers[slowest_id].name}, **{worst:.2f}x** `{BASELINE}` (median "
        f"CPU time); goal at most {MAX_IMPORT_RATIO:.1f}x: "
        f"{'met' if worst <= MAX_IMPORT_RATIO else 'NOT met'}.",
    ]
    return lines, next(f for f in functions if f.logical_id == slowest_id)


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
#: Top-level packages by where they come from, for the `-X importtime` table.
GROUPS = {
    "boto3 and its dependencies (the runtime's)": {
        "boto3",
        "botocore",
        "s3transfer",
        "urllib3",
        "dateutil",
        "jmespath",
        "six",
    },
    "pydantic": {"pydantic", "pydantic_core", "annotated_types", "typing_inspection"},
    "typing_extensions": {"typing_extensions"},
    "aws_lambda_powertools": {"aws_lambda_powertools"},
    "aws_xray_sdk, wrapt (X-Ray)": {"aws_xray_sdk", "wrapt"},
    "ipsync_migrator": {"ipsync_migrator"},
}
OWN_ROWS = 6


IMPORTTIME_RUNS = 5


def _self_times(stand: Stand, function: BuiltFunction) -> dict[str, int]:
    """Microseconds of self time per module, from one cold import under `-X importtime`."""
    outcome = stand.cold_import(function, function.handler, flags=("-X", "importtime"))
    stderr: str = outcome["stderr"]
    own = {}
    for line in stderr.split(TIMED_MARKER, 1)[-1].splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            own[match.group(4)] = int(match.group(1))
    return own


def importtime_lines(stand: Stand, function: BuiltFunction) -> list[str]:
    """Where a cold import of the handler spends its time, by `-X importtime` self times."""
    rest = "standard library and the rest"
    group_of = {package: group for group, packages in GROUPS.items() for package in packages}
    runs = [_self_times(stand, function) for _ in range(IMPORTTIME_RUNS)]
    modules = sorted(set().union(*runs))
    median = {name: statistics.median(run.get(name, 0) for run in runs) for name in modules}
    lines = [
        f"`-X importtime` of {function.handler}: median self time of {IMPORTTIME_RUNS} cold "
        "imports, summed by where the module comes from (importtime adds its own overhead), "
        "then this project's heaviest modules:",
        "",
        "| imported from | modules | self (ms) |",
        "|---|---:|---:|",
    ]
    for group in [*GROUPS, rest]:
        names = [n for n in modules if group_of.get(n.split(".")[0], rest) == group]
        lines.append(f"| {group} | {len(names)} | {sum(median[n] for n in names) / 1000:.0f} |")
    ours = sorted(
        ((us, name) for name, us in median.items() if name.startswith("ipsync_migrator")),
        reverse=True,
    )
    lines += ["", "| module | self (ms) |", "|---|---:|"]
    lines += [f"| {name} | {us / 1000:.1f} |" for us, name in ours[:OWN_ROWS]]
    return lines


def measure() -> list[str]:
    artefact = BuiltArtefact(build_dir())
    lines = [
        SECTION,
        "",
        "What `make build` (`sam build`) produces. Reproduce with `make build && "
        ".venv/bin/python -m bench.artefact`.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d}",
        f"- Machine: {platform.machine()}, {RUNS} rounds; each round imports boto3 alone, then "
        "every handler, each in a new python3.13 process with only boto3 installed, the built "
        "function's code and its layer first on sys.path and the environment Lambda sets. The "
        "ratio is of the median CPU time of the import: on a shared machine wall time mostly "
        "measures the other load, and a Lambda function's CPU share (256 MB: a fraction of a "
        "vCPU) scales every import alike. On an x86_64 host the layer's two compiled extensions "
        "(pydantic-core, wrapt) are the same versions built for the host. MB are 10^6 bytes.",
        "",
    ]
    lines += size_lines(artefact)
    with tempfile.TemporaryDirectory() as scratch:
        stand = Stand(artefact, Path(scratch))
        imports, slowest = import_lines(artefact, stand)
        lines += ["", *imports, "", *importtime_lines(stand, slowest)]
    return lines


def write_docs(lines: list[str]) -> None:
    text = DOCS.read_text()
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    else:
        end = text.find("\n## ", start + len(SECTION))
        rest = text[end:] if end != -1 else "\n"
        text = text[:start] + "\n".join(lines) + "\n" + rest
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    parser.add_argument(
        "--importtime", metavar="LOGICAL_ID", help="only the `-X importtime` table of a function"
    )
    args = parser.parse_args()
    if args.importtime:
        artefact = BuiltArtefact(build_dir())
        function = next(f for f in artefact.functions if f.logical_id == args.importtime)
        with tempfile.TemporaryDirectory() as scratch:
            print("\n".join(importtime_lines(Stand(artefact, Path(scratch)), function)))
        return
    lines = measure()
    print("\n".join(lines))
    if args.write_docs:
        write_docs(lines)


if __name__ == "__main__":
    main()
