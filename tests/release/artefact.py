"""The release artefact (what `sam build` produces) and a stand-in for Lambda's python3.13.

The stand-in is a fresh python3.13 venv holding only boto3, the one package the Lambda
runtime provides (DOMAIN.md section 6). A function runs in it with the sys.path Lambda gives
it: the function's code first, then the layers' ``python/`` directories.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BUILD_DIR = ROOT / ".aws-sam" / "build"
LAMBDA_PYTHON_VERSION = "3.13"
#: ELF e_machine of the architectures a layer may be built for.
ELF_MACHINES = {"arm64": 183, "x86_64": 62}
HOST_ARCHITECTURE = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64"}.get(
    platform.machine(), platform.machine()
)
RUNNER = Path(__file__).with_name("lambda_runner.py")
#: lambda_runner.py's line on stderr before the imports it times.
TIMED_MARKER = "-- timed imports --"


class ArtefactError(AssertionError):
    """The artefact, or what checking it needs, is missing or broken; says how to fix it."""


def build_dir() -> Path:
    """The `sam build` output the tests check (`make build`; IPSYNC_BUILD_DIR overrides)."""
    directory = Path(os.environ.get("IPSYNC_BUILD_DIR") or DEFAULT_BUILD_DIR)
    if not directory.is_absolute():
        directory = ROOT / directory
    if not (directory / "template.yaml").is_file():
        raise ArtefactError(
            f"No built artefact at {directory}. Fix: run `make build` (or `make test`, which "
            "builds first)."
        )
    return directory


@dataclass(frozen=True)
class BuiltFunction:
    logical_id: str
    handler: str
    code: Path
    layers: tuple[Path, ...]
    architecture: str
    runtime: str

    @property
    def python_paths(self) -> list[Path]:
        """Lambda's order: the function's code, then each layer's ``python/``."""
        return [self.code, *(layer / "python" for layer in self.layers)]

    def environment(self) -> dict[str, str]:
        """The variables Lambda itself sets in a python3.13 execution environment, with this
        function's code as the task root (docs.aws.amazon.com/lambda/latest/dg/
        configuration-envvars.html#configuration-envvars-runtime). Libraries read them at
        import: the X-Ray SDK and Powertools tell Lambda from elsewhere by them."""
        return {
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": self.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": str(self.code),
        }

    def size(self) -> int:
        """Bytes unzipped: the function's code and its layers, as Lambda counts its
        250 MB quota (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)."""
        return sum(tree_size(part) for part in (self.code, *self.layers))


def tree_size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


#: Issue 13: at most 15 MB unzipped per function, code and layers together.
MAX_FUNCTION_BYTES = 15_000_000


def size_problems(function: BuiltFunction) -> list[str]:
    """A function over the size budget, or shipping a botocore (the runtime's own)."""
    problems = []
    size = function.size()
    if size > MAX_FUNCTION_BYTES:
        problems.append(
            f"{function.logical_id}: {size:,} bytes unzipped with its layers, over "
            f"{MAX_FUNCTION_BYTES:,}"
        )
    for site in function.python_paths:
        shipped = [p.name for p in site.glob("botocore*") if p.name.split("-")[0] == "botocore"]
        if shipped:
            problems.append(f"{function.logical_id}: {site} ships {sorted(shipped)}")
    return problems


class BuiltArtefact:
    """The built template and the directories it points at."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template: dict[str, Any] = yaml_parse((directory / "template.yaml").read_text())

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    def layer_dirs(self) -> dict[str, Path]:
        return {
            name: self.directory / str(resource["Properties"]["ContentUri"])
            for name, resource in self.resources.items()
            if resource["Type"] == "AWS::Serverless::LayerVersion"
        }

    @cached_property
    def functions(self) -> list[BuiltFunction]:
        function_globals = self.template.get("Globals", {}).get("Function", {})
        layers = self.layer_dirs()
        built = []
        for name, resource in sorted(self.resources.items()):
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            properties = {**function_globals, **resource["Properties"]}
            refs = [layer["Ref"] for layer in properties.get("Layers", [])]
            missing = [ref for ref in refs if ref not in layers]
            if missing:
                raise ArtefactError(f"{name} names layers the build lacks: {missing}")
            built.append(
                BuiltFunction(
                    logical_id=name,
                    handler=str(properties["Handler"]),
                    code=self.directory / str(properties["CodeUri"]),
                    layers=tuple(layers[ref] for ref in refs),
                    architecture=str(properties.get("Architectures", ["x86_64"])[0]),
                    runtime=str(properties["Runtime"]),
                )
            )
        return built


# ---- the runtime's Python -----------------------------------------------------------------


def find_lambda_python() -> Path:
    """python3.13: LAMBDA_PYTHON, else on PATH, else under pyenv; else a clear failure."""
    explicit = os.environ.get("LAMBDA_PYTHON")
    candidates = [Path(explicit)] if explicit else []
    on_path = shutil.which(f"python{LAMBDA_PYTHON_VERSION}")
    if on_path:
        candidates.append(Path(on_path))
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += sorted(
        (pyenv_root / "versions").glob(
            f"{LAMBDA_PYTHON_VERSION}*/bin/python{LAMBDA_PYTHON_VERSION}"
        ),
        reverse=True,
    )
    for candidate in candidates:
        # A pyenv shim on PATH exists but answers only when its version is selected.
        if _reports_version(candidate):
            return candidate
    raise ArtefactError(
        f"No python{LAMBDA_PYTHON_VERSION} found (LAMBDA_PYTHON, PATH, {pyenv_root}/versions), "
        "which the release checks need to import the handlers as Lambda's runtime does. Fix: "
        f"`pyenv install {LAMBDA_PYTHON_VERSION}` (or install python{LAMBDA_PYTHON_VERSION}), "
        "or set LAMBDA_PYTHON=/path/to/python3.13."
    )


def _reports_version(python: Path) -> bool:
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == LAMBDA_PYTHON_VERSION


class LambdaPython:
    """A fresh python3.13 venv with only boto3 (and its own dependencies) installed."""

    def __init__(self, directory: Path, base_python: Path) -> None:
        self.directory = directory
        subprocess.run([str(base_python), "-m", "venv", str(directory)], check=True)
        self._pip("install", "--quiet", "--disable-pip-version-check", "boto3")

    @property
    def python(self) -> Path:
        return self.directory / "bin" / "python"

    def _pip(self, *args: str) -> None:
        subprocess.run([str(self.python), "-m", "pip", *args], check=True, timeout=600)

    def distributions(self) -> set[str]:
        out = subprocess.run(
            [
                str(self.python),
                "-c",
                "import importlib.metadata as m, json;"
                "names = {d.metadata['Name'].lower() for d in m.distributions()};"
                "print(json.dumps(sorted(names)))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return set(json.loads(out.stdout))

    def native_overlay(self, layer: Path, architecture: str, into: Path) -> Path | None:
        """The layer's compiled distributions rebuilt for this host, when it cannot run them.

        The layer targets the functions' architecture; on another host the same distributions
        at the same versions are installed for the host and put in front of the layer, so the
        pure-Python code that is imported is still the built artefact's own.
        """
        if architecture == HOST_ARCHITECTURE:
            return None
        pins = [f"{name}=={version}" for name, version in compiled_distributions(layer)]
        if not pins:
            return None
        self._pip(
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(into),
            *pins,
        )
        return into

    def run(
        self,
        paths: list[Path],
        request: dict[str, Any],
        env: dict[str, str] | None = None,
        timeout: float = 120,
        flags: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Run lambda_runner.py with ``paths`` first on sys.path, read-only as /var/task is."""
        completed = subprocess.run(
            [str(self.python), "-I", "-B", *flags, str(RUNNER)],
            input=json.dumps({"paths": [str(p) for p in paths], **request}),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(self.directory), **(env or {})},
            check=False,
        )
        lines = completed.stdout.strip().splitlines()
        if completed.returncode != 0 or not lines:
            raise ArtefactError(
                f"lambda_runner failed (rc={completed.returncode}):\n{completed.stderr[-4000:]}"
            )
        result: dict[str, Any] = json.loads(lines[-1])
        result["stderr"] = completed.stderr
        return result

    def bytecode_problems(self, directory: Path) -> list[str]:
        """What in ``directory`` is not bytecode this python3.13 loads as shipped: a .pyc of
        another Python; in __pycache__, one of another cache tag, not in checked-hash mode or
        whose source changed since; beside its source, a sourceless one."""
        completed = subprocess.run(
            [str(self.python), "-I", "-c", _BYTECODE_CHECK, str(directory)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        problems: list[str] = json.loads(completed.stdout)
        return problems


#: Runs in the python3.13 stand-in: its magic number and source hash are the runtime's.
_BYTECODE_CHECK = """
import importlib.util, json, sys
from pathlib import Path

CHECKED = 0b11  # PEP 552 flags: hash-based, check_source
root = Path(sys.argv[1])
problems = []
for pyc in sorted(root.rglob("*.pyc")):
    header = pyc.read_bytes()[:16]
    where = str(pyc.relative_to(root))
    if header[:4] != importlib.util.MAGIC_NUMBER:
        problems.append(f"{where}: not python{sys.version_info[0]}.{sys.version_info[1]} bytecode")
        continue
    flags = int.from_bytes(header[4:8], "little")
    if pyc.parent.name == "__pycache__":
        source = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
        if not pyc.name.endswith(f".{sys.implementation.cache_tag}.pyc"):
            problems.append(f"{where}: not {sys.implementation.cache_tag}")
        elif flags != CHECKED:
            problems.append(f"{where}: not checked-hash (a zip's file times would stale it)")
        elif not source.is_file():
            problems.append(f"{where}: no source beside it")
        elif header[8:16] != importlib.util.source_hash(source.read_bytes()):
            problems.append(f"{where}: its source changed since it was compiled")
    elif pyc.with_suffix(".py").exists():
        problems.append(f"{where}: sourceless bytecode beside its source")
print(json.dumps(problems))
"""


def compiled_distributions(layer: Path) -> list[tuple[str, str]]:
    """(name, version) of every distribution in the layer that ships a compiled extension."""
    site = layer / "python"
    found = []
    for dist_info in sorted(site.glob("*.dist-info")):
        record = dist_info / "RECORD"
        files = [line.split(",")[0] for line in record.read_text().splitlines() if line]
        if any(f.endswith(".so") for f in files):
            name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
            found.append((name, version))
    return found


def elf_machine(path: Path) -> int:
    """The e_machine field of an ELF file (little-endian, as both Lambda architectures are)."""
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        raise ArtefactError(f"{path} is not an ELF file")
    return int.from_bytes(header[18:20], "little")


#: The runtime's own packages: a function or layer that ships one shadows the runtime's.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def import_problems(outcome: dict[str, Any], code: Path, venv: Path) -> list[str]:
    """What is wrong with one import run of a function: failures and shadowed packages."""
    problems = [f"{name}: {error}" for name, error in outcome["failures"].items()]
    origins: dict[str, str | None] = outcome["origins"]
    package = origins.get("ipsync_migrator")
    if not package or not Path(package).is_relative_to(code):
        problems.append(f"ipsync_migrator imported from {package}, not from the function's code")
    for name in ("boto3", "botocore"):
        where = origins.get(name)
        if not where or not Path(where).is_relative_to(venv):
            problems.append(f"{name} imported from {where}, not from the runtime's own")
    return problems
