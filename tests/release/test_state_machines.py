"""Both state machines, as `sam deploy` would create them, pass an independent ASL validator.

asl-validator (npm) checks Step Functions' own rules that moto and cfn-lint do not, such as
unique state names across the whole machine, Map iterators included (DOMAIN.md section 6).
The definitions are checked after DefinitionSubstitutions, with ARNs of the right shape.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.release.artefact import ROOT, ArtefactError, BuiltArtefact

ACCOUNT, REGION = "123456789012", "us-east-1"
PLACEHOLDER = re.compile(r"(?<!\$)\$\{([A-Za-z0-9_]+)\}")


def asl_validator() -> Path:
    configured = os.environ.get("ASL_VALIDATOR") or ".tools/node/node_modules/.bin/asl-validator"
    path = Path(configured) if Path(configured).is_absolute() else ROOT / configured
    if not path.is_file():
        found = shutil.which("asl-validator")
        if found:
            return Path(found)
        raise ArtefactError(
            f"asl-validator not found at {path}. Fix: `make test` installs it (npm, into "
            ".tools/node), or set ASL_VALIDATOR."
        )
    return path


def stand_in(reference: Any, resources: dict[str, Any]) -> str:
    """A value of the shape CloudFormation resolves `reference` to, for the validator."""
    if isinstance(reference, str):
        return reference
    if "Fn::GetAtt" in reference:
        logical_id = reference["Fn::GetAtt"][0]
    elif "Ref" in reference:
        logical_id = reference["Ref"]
    else:
        raise AssertionError(f"unexpected substitution {reference}")
    kind = resources[logical_id]["Type"]
    name = f"ipsync-migrator-{logical_id}"
    if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    if kind == "AWS::S3::Bucket":
        return name.lower()
    if kind == "AWS::Events::EventBus":
        return (
            "ipsync-migrator"
            if "Ref" in reference
            else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/ipsync-migrator"
        )
    if kind == "AWS::DynamoDB::Table":
        return "ipsync-migrator-journal"
    raise AssertionError(f"no stand-in for a {kind} ({logical_id})")


def deployed_definitions(artefact: BuiltArtefact) -> dict[str, dict[str, Any]]:
    """Each state machine's definition with its substitutions applied."""
    definitions = {}
    for name, resource in artefact.resources.items():
        if resource["Type"] != "AWS::Serverless::StateMachine":
            continue
        properties = resource["Properties"]
        uri = artefact.directory / properties["DefinitionUri"]
        text = uri.resolve().read_text()
        values = {
            key: stand_in(value, artefact.resources)
            for key, value in properties.get("DefinitionSubstitutions", {}).items()
        }
        missing = set(PLACEHOLDER.findall(text)) - values.keys()
        assert not missing, f"{name}: no DefinitionSubstitutions for {sorted(missing)}"
        text = PLACEHOLDER.sub(lambda m, known=values: known[m.group(1)], text)
        definitions[name] = json.loads(text)
    return definitions


def validate(definition: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return subprocess.run(
        [str(asl_validator()), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_both_state_machines_are_in_the_artefact(artefact: BuiltArtefact) -> None:
    assert set(deployed_definitions(artefact)) == {"MigrationStateMachine", "FleetStateMachine"}


@pytest.mark.parametrize("name", ["MigrationStateMachine", "FleetStateMachine"])
def test_state_machine_passes_asl_validator(
    artefact: BuiltArtefact, name: str, tmp_path: Path
) -> None:
    # Given the definition as CloudFormation would create it
    definition = deployed_definitions(artefact)[name]
    # When asl-validator checks it / Then it is valid
    checked = validate(definition, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_duplicate_state_name_fails_the_validator(
    artefact: BuiltArtefact, tmp_path: Path
) -> None:
    # Given the migration machine with a Map whose iterator reuses a top-level state name
    definition = copy.deepcopy(deployed_definitions(artefact)["MigrationStateMachine"])
    reused = definition["StartAt"]
    definition["States"]["DuplicateProbe"] = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": reused,
            "States": {reused: {"Type": "Succeed"}},
        },
        "End": True,
    }
    # When the validator checks it / Then it refuses it, as Step Functions would
    checked = validate(definition, tmp_path)
    assert checked.returncode != 0
    assert "DUPLICATE_STATE_NAMES" in checked.stdout + checked.stderr
