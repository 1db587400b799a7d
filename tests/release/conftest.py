"""The release artefact under test: `make build`'s output and Lambda's python3.13 stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.release.artefact import BuiltArtefact, LambdaPython, build_dir, find_lambda_python


@pytest.fixture(scope="session")
def artefact() -> BuiltArtefact:
    return BuiltArtefact(build_dir())


@pytest.fixture(scope="session")
def lambda_python(tmp_path_factory: pytest.TempPathFactory) -> LambdaPython:
    """A fresh python3.13 venv holding only boto3 (what the Lambda runtime provides)."""
    return LambdaPython(tmp_path_factory.mktemp("lambda-python3.13"), find_lambda_python())


@pytest.fixture(scope="session")
def overlays(
    artefact: BuiltArtefact, lambda_python: LambdaPython, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, Path | None]:
    """Per layer, its compiled distributions for this host (None when the host can run them)."""
    architectures = {layer: f.architecture for f in artefact.functions for layer in f.layers}
    return {
        layer: lambda_python.native_overlay(
            layer, architecture, tmp_path_factory.mktemp(f"native-{layer.name}")
        )
        for layer, architecture in architectures.items()
    }


def lambda_paths(function_paths: list[Path], overlays: dict[Path, Path | None]) -> list[Path]:
    """The function's sys.path with each layer's host-native overlay just before the layer."""
    paths: list[Path] = []
    for path in function_paths:
        overlay = overlays.get(path.parent)
        if overlay is not None:
            paths.append(overlay)
        paths.append(path)
    return paths
