"""Benchmark the release artefact: size per function and layer, cold import per handler.

Run with `make bench` (after `make build`), or `.venv/bin/python -m bench.artefact
--write-docs` to refresh the artefact section of docs/benchmarks.md. Each handler is
imported in a new process of the stand-in for Lambda's python3.13 (a venv holding only
boto3, tests/release/artefact.py), the way a cold Lambda Init imports it; the import is
timed inside the process, and the whole process too.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from tests.release.artefact import (
    BuiltArtefact,
    LambdaPython,
    build_dir,
    find_lambda_python,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## Release artefact"
RUNS = 5


def directory_size(directory: Path) -> tuple[int, int]:
    """(bytes on disk, bytes zipped as `sam deploy` uploads it)."""
    files = [f for f in sorted(directory.rglob("*")) if f.is_file()]
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.relative_to(directory).as_posix())
    return sum(f.stat().st_size for f in files), len(buffer.getvalue())


def mib(size: int) -> str:
    return f"{size / 2**20:.2f}"


def measure() -> list[str]:
    artefact = BuiltArtefact(build_dir())
    lines = [
        SECTION,
        "",
        "What `make build` (`sam build`) produces. Reproduce with `make build && "
        ".venv/bin/python -m bench.artefact`.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d}",
        f"- Machine: {platform.machine()}, {RUNS} cold imports per handler, each in a new "
        "python3.13 process with only boto3 installed, the built function's code and its "
        "layer first on sys.path. On an x86_64 host the layer's two compiled extensions "
        "(pydantic-core, wrapt) are the same versions built for the host.",
        "",
        "| part | files (MiB) | zipped (MiB) |",
        "|---|---:|---:|",
    ]
    for name, layer in sorted(artefact.layer_dirs().items()):
        on_disk, zipped = directory_size(layer)
        lines.append(f"| layer {name} | {mib(on_disk)} | {mib(zipped)} |")
    for function in artefact.functions:
        on_disk, zipped = directory_size(function.code)
        lines.append(f"| {function.logical_id} | {mib(on_disk)} | {mib(zipped)} |")

    with tempfile.TemporaryDirectory() as scratch:
        python = LambdaPython(Path(scratch) / "venv", find_lambda_python())
        architectures = {layer: f.architecture for f in artefact.functions for layer in f.layers}
        overlays = {
            layer: python.native_overlay(layer, arch, Path(scratch) / f"native-{layer.name}")
            for layer, arch in architectures.items()
        }
        lines += [
            "",
            "| handler | import median (ms) | import max (ms) | process median (ms) |",
            "|---|---:|---:|---:|",
        ]
        for function in artefact.functions:
            paths = []
            for path in function.python_paths:
                overlay = overlays.get(path.parent)
                paths += [overlay, path] if overlay else [path]
            imports, processes = [], []
            for _ in range(RUNS):
                started = time.perf_counter()
                outcome = python.run(paths, {"imports": [function.handler]})
                processes.append(time.perf_counter() - started)
                assert not outcome["failures"], outcome["failures"]
                imports.append(outcome["importSeconds"])
            lines.append(
                f"| {function.handler} | {statistics.median(imports) * 1000:.0f} | "
                f"{max(imports) * 1000:.0f} | {statistics.median(processes) * 1000:.0f} |"
            )
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    args = parser.parse_args()
    lines = measure()
    print("\n".join(lines))
    if args.write_docs:
        write_docs(lines)


if __name__ == "__main__":
    main()
