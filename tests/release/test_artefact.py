"""What `sam build` produced is what Lambda can run: contents, and imports on python3.13.

Each handler is imported the way Lambda's Init does it: in a fresh python3.13 venv that holds
only boto3, with the built function's code and its layers first on sys.path.
"""

from __future__ import annotations

import filecmp
import re
import shutil
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.release.artefact import (
    ELF_MACHINES,
    MAX_FUNCTION_BYTES,
    ROOT,
    RUNTIME_PROVIDED,
    BuiltArtefact,
    BuiltFunction,
    LambdaPython,
    elf_machine,
    import_problems,
    size_problems,
)
from tests.release.conftest import lambda_paths

SOURCE = ROOT / "functions" / "ipsync_migrator"
#: Modules only the CLI or the emulator use (functions/Makefile leaves them out).
CLI_ONLY = (
    "local",
    "cli.py",
    "operations.py",
    "progress.py",
    "render.py",
    "render_fleet.py",
    "aws/service.py",
)


def import_outcome(
    python: LambdaPython, function: BuiltFunction, overlays: dict[Path, Path | None]
) -> dict[str, Any]:
    """The runner's report of importing the function's handler as Lambda's Init does."""
    return python.run(
        lambda_paths(function.python_paths, overlays),
        {"imports": [function.handler]},
        env=function.environment(),
    )


def import_run(
    python: LambdaPython, function: BuiltFunction, overlays: dict[Path, Path | None]
) -> list[str]:
    outcome = import_outcome(python, function, overlays)
    return import_problems(outcome, function.code, python.directory)


def test_every_function_runs_python313_arm64_with_the_dependencies_layer(
    artefact: BuiltArtefact,
) -> None:
    # Given the built template / Then each of its functions is python3.13 on arm64 with a layer
    assert len(artefact.functions) >= 14
    for function in artefact.functions:
        assert (function.runtime, function.architecture) == ("python3.13", "arm64"), function
        assert function.layers, f"{function.logical_id} has no layer: its imports would fail"
        assert (
            (function.code / function.handler.replace(".", "/").rsplit("/", 1)[0])
            .with_suffix(".py")
            .is_file()
        ), function


def test_the_layer_ships_no_package_the_runtime_provides(artefact: BuiltArtefact) -> None:
    # Given each built layer / Then no boto3, botocore (aws-xray-sdk pulls one) or their deps
    for layer in artefact.layer_dirs().values():
        site = layer / "python"
        shipped = {p.name.split("-")[0].lower() for p in site.iterdir()}
        shipped |= {p.stem.lower() for p in site.glob("*.py")}
        assert not shipped & set(RUNTIME_PROVIDED), f"{layer}: {shipped & set(RUNTIME_PROVIDED)}"
        assert {"aws_lambda_powertools", "pydantic", "pydantic_core", "aws_xray_sdk"} <= shipped


def test_every_function_with_its_layers_fits_15_mb_and_ships_no_botocore(
    artefact: BuiltArtefact,
) -> None:
    # Given each built function with its layers, as Lambda unzips them
    # Then none is over 15 MB, and none brings a botocore of its own
    problems = {f.logical_id: size_problems(f) for f in artefact.functions}
    assert {name: p for name, p in problems.items() if p} == {}


def test_the_layer_ships_python313_bytecode_in_place_of_its_sources(
    artefact: BuiltArtefact, lambda_python: LambdaPython
) -> None:
    for layer in artefact.layer_dirs().values():
        site = layer / "python"
        # Given each built layer / Then it holds no source, bytecode python3.13 loads instead
        assert not sorted(site.rglob("*.py")), f"{layer} ships sources"
        assert (site / "pydantic" / "main.pyc").is_file()
        assert lambda_python.bytecode_problems(site) == []


def test_layer_binaries_are_built_for_the_functions_architecture_and_python(
    artefact: BuiltArtefact,
) -> None:
    # Given the compiled extensions of each layer
    for function in artefact.functions:
        for layer in function.layers:
            binaries = sorted((layer / "python").rglob("*.so"))
            assert binaries, f"{layer}: no compiled extension (pydantic_core has one)"
            for binary in binaries:
                # Then each is an ELF for the function's architecture and CPython 3.13
                assert elf_machine(binary) == ELF_MACHINES[function.architecture], binary
                assert ".cpython-313-" in binary.name, binary


def test_functions_ship_the_package_without_the_cli_or_the_emulator(
    artefact: BuiltArtefact,
) -> None:
    for function in artefact.functions:
        shipped = function.code / "ipsync_migrator"
        # Then nothing only the CLI or the emulator needs is in the function
        for part in CLI_ONLY:
            assert not (shipped / part).exists(), f"{function.logical_id} ships {part}"
        assert not list(function.code.glob("tests")), function.logical_id
        # and every file it ships is today's source (a stale build fails here: `make build`)
        for file in shipped.rglob("*.py"):
            source = SOURCE / file.relative_to(shipped)
            assert source.is_file() and filecmp.cmp(file, source, shallow=False), (
                f"{function.logical_id}: {file.relative_to(function.code)} differs from the "
                "source; run `make build`"
            )


def test_functions_ship_checked_bytecode_of_every_module(
    artefact: BuiltArtefact, lambda_python: LambdaPython
) -> None:
    for function in artefact.functions:
        shipped = function.code / "ipsync_migrator"
        # Given each built function / Then each module has its python3.13 bytecode beside it,
        # checked against its source (the source stays, for tracebacks)
        modules = {f.relative_to(shipped).with_suffix("") for f in shipped.rglob("*.py")}
        compiled = {
            f.parent.parent.relative_to(shipped) / f.name.split(".")[0]
            for f in shipped.rglob("__pycache__/*.pyc")
        }
        assert modules == compiled, f"{function.logical_id}: {modules ^ compiled}"
        assert lambda_python.bytecode_problems(function.code) == [], function.logical_id


def test_layer_requirements_keep_pyprojects_ranges() -> None:
    # Given the layer's requirements and the package's own
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ranges = {re.split(r"[\[<>=]", r, maxsplit=1)[0]: r for r in declared}
    layer = [
        line.strip()
        for line in (ROOT / "layer" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Then each layer requirement is pinned exactly as pyproject.toml pins it
    for requirement in layer:
        name = re.split(r"[\[<>=]", requirement, maxsplit=1)[0]
        assert ranges.get(name) == requirement, (requirement, ranges.get(name))


def test_every_handler_imports_on_lambda_python(
    artefact: BuiltArtefact, lambda_python: LambdaPython, overlays: dict[Path, Path | None]
) -> None:
    # Given a venv with only boto3 (the runtime's packages)
    assert lambda_python.distributions() <= {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "python-dateutil",
        "six",
        "urllib3",
        "pip",
    }
    # When each built function's handler is imported with its code and layers on the path
    problems = {f.logical_id: import_run(lambda_python, f, overlays) for f in artefact.functions}
    # Then every one imports, its package from its own code, boto3 from the runtime
    assert {name: p for name, p in problems.items() if p} == {}


def test_no_fleet_handler_loads_discovery_at_import(
    artefact: BuiltArtefact, lambda_python: LambdaPython, overlays: dict[Path, Path | None]
) -> None:
    # Given the fleet's built functions, imported as Lambda's Init imports them
    loaded = {
        f.logical_id: import_outcome(lambda_python, f, overlays)["loaded"]
        for f in artefact.functions
        if f.logical_id.startswith("Fleet")
    }
    # Then none loads discovery (a third of fleet.py's cold import): FleetDiscover imports it
    # when it first discovers (its built invocation: tests/release/test_invocations.py)
    assert len(loaded) == 4, sorted(loaded)
    assert {name for name, modules in loaded.items() if "ipsync_migrator.discovery" in modules} == (
        set()
    )


@dataclass
class BrokenCopy:
    """A copy of one built function and its layers, to break on purpose and import."""

    function: BuiltFunction
    overlays: dict[Path, Path | None]
    python: LambdaPython

    @property
    def layer(self) -> Path:
        return self.function.layers[0] / "python"

    def import_problems(self) -> list[str]:
        return import_run(self.python, self.function, self.overlays)


@pytest.fixture
def broken(
    artefact: BuiltArtefact,
    lambda_python: LambdaPython,
    overlays: dict[Path, Path | None],
    tmp_path: Path,
) -> BrokenCopy:
    function = next(f for f in artefact.functions if f.logical_id == "PreflightFunction")
    code = tmp_path / "code"
    shutil.copytree(function.code, code)
    layers = []
    for layer in function.layers:
        shutil.copytree(layer, tmp_path / layer.name)
        layers.append(tmp_path / layer.name)
    copy = replace(function, code=code, layers=tuple(layers))
    moved = {tmp_path / layer.name: overlay for layer, overlay in overlays.items()}
    return BrokenCopy(copy, moved, lambda_python)


def test_a_layer_missing_a_dependency_fails_the_import_check(broken: BrokenCopy) -> None:
    # Given a copy of the artefact whose layer lost aws_lambda_powertools
    shutil.rmtree(broken.layer / "aws_lambda_powertools")
    # When it is imported / Then the check reports the missing module
    problems = broken.import_problems()
    assert any("No module named 'aws_lambda_powertools'" in p for p in problems), problems


def test_a_layer_shipping_botocore_fails_the_import_check(broken: BrokenCopy) -> None:
    # Given a copy of the artefact whose layer ships a botocore of its own
    site = next((broken.python.directory / "lib").glob("python3.13/site-packages"))
    shutil.copytree(site / "botocore", broken.layer / "botocore")
    # When it is imported / Then the check reports the shadowed runtime package
    problems = broken.import_problems()
    assert any(p.startswith("botocore imported from") for p in problems), problems


def test_a_function_over_15_mb_or_with_a_botocore_fails_the_size_check(
    broken: BrokenCopy,
) -> None:
    # Given a copy of a function within the budget
    assert size_problems(broken.function) == []
    # When its layer grows past 15 MB and its code brings a botocore
    spare = MAX_FUNCTION_BYTES - broken.function.size() + 1
    (broken.layer / "padding.bin").write_bytes(b"\0" * spare)
    site = next((broken.python.directory / "lib").glob("python3.13/site-packages"))
    shutil.copytree(site / "botocore", broken.function.code / "botocore")
    # Then the check reports both
    problems = size_problems(broken.function)
    assert len(problems) == 2, problems
    assert "over 15,000,000" in problems[0] and "ships ['botocore']" in problems[1], problems


def test_stale_or_foreign_bytecode_fails_the_bytecode_check(broken: BrokenCopy) -> None:
    # Given a copy whose module changed after it was compiled, and a .pyc of another Python
    models = broken.function.code / "ipsync_migrator" / "models.py"
    models.write_text(models.read_text() + "\n# edited after the build\n")
    foreign = broken.layer / "typing_extensions.pyc"
    foreign.write_bytes(b"\x00\x00\r\n" + foreign.read_bytes()[4:])
    # When its bytecode is checked / Then both are reported
    assert broken.python.bytecode_problems(broken.function.code) == [
        "ipsync_migrator/__pycache__/models.cpython-313.pyc: its source changed since it was "
        "compiled"
    ]
    assert broken.python.bytecode_problems(broken.layer) == [
        "typing_extensions.pyc: not python3.13 bytecode"
    ]


def test_x_ray_is_imported_only_for_a_traced_invocation(broken: BrokenCopy) -> None:
    # Given a built function invoked as Lambda does under active tracing (the segments go to
    # an absent daemon over UDP); the event is invalid, so no AWS call is made
    function = broken.function
    root = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"
    outcomes = {}
    for sampled in ("0", "1"):
        outcomes[sampled] = broken.python.run(
            lambda_paths(function.python_paths, broken.overlays),
            {"invoke": {"handler": function.handler, "event": {}, "functionName": "f"}},
            env={
                **function.environment(),
                "_X_AMZN_TRACE_ID": f"{root};Sampled={sampled}",
                "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            },
        )
    # Then both fail the same way, and only the sampled one loaded the layer's X-Ray SDK
    assert {o["errorType"] for o in outcomes.values()} == {"InvalidInputError"}, outcomes
    assert outcomes["0"]["origins"]["aws_xray_sdk"] is None
    xray = outcomes["1"]["origins"]["aws_xray_sdk"]
    assert xray and Path(xray).is_relative_to(function.layers[0]), xray


def test_a_function_missing_a_module_fails_the_import_check(broken: BrokenCopy) -> None:
    # Given a copy of the function without a module its handler imports
    (broken.function.code / "ipsync_migrator" / "planning.py").unlink()
    # When it is imported / Then the check reports it
    problems = broken.import_problems()
    assert any("ipsync_migrator.planning" in p for p in problems), problems
