"""events/: one sample per handler and per state-machine input, each valid for its model.

The samples feed these tests, `sam local invoke -e` and `sam remote invoke --event-file`, so a
model change that a sample no longer satisfies fails here, not in front of a person.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ipsync_migrator.aws.bus import EVENT_SOURCE
from ipsync_migrator.events import ROLLBACK_TRIGGERS, replay_applies_to
from ipsync_migrator.handlers.requests import PreflightRequest
from ipsync_migrator.models import MigrationOptions
from ipsync_migrator.naming import migration_id_for_target_group

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
HANDLERS = ROOT / "functions" / "ipsync_migrator" / "handlers"
STATE_MACHINES = ROOT / "statemachine"
#: Modules of handlers/ that are shared code, not Lambda entry points.
NOT_ENTRY_POINTS = {"__init__", "requests", "runtime"}
ACCOUNT, REGION = "123456789012", "us-east-1"

HANDLER_NAMES = sorted(p.stem for p in HANDLERS.glob("*.py") if p.stem not in NOT_ENTRY_POINTS)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def request_model(handler_name: str) -> type[BaseModel]:
    """The model `handler_name`'s handler passes to `parse(...)`, read from its source."""
    module = importlib.import_module(f"ipsync_migrator.handlers.{handler_name}")
    tree = ast.parse(Path(str(module.__file__)).read_text())
    names = [
        node.args[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "parse"
        and node.args
        and isinstance(node.args[0], ast.Name)
    ]
    assert len(names) == 1, f"{handler_name}: expected one parse(Model, event), found {names}"
    model = getattr(module, names[0])
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def required_keys(model: type[BaseModel]) -> list[str]:
    """The wire names (aliases) of the model's required fields."""
    return [f.alias or name for name, f in model.model_fields.items() if f.is_required()]


def state_machine_samples() -> list[Path]:
    return sorted((EVENTS / "statemachine").glob("*.json"))


# ---- handlers ------------------------------------------------------------------------------


def test_handlers_are_discovered() -> None:
    # Guards the parametrisation below against an empty or misplaced glob.
    assert {"preflight", "cutover", "rollback", "replay_rollback"} <= set(HANDLER_NAMES)


@pytest.mark.parametrize("name", HANDLER_NAMES)
def test_every_handler_has_a_sample(name: str) -> None:
    assert (EVENTS / f"{name}.json").is_file(), f"add events/{name}.json for handlers/{name}.py"


def test_every_sample_belongs_to_a_handler() -> None:
    samples = {p.stem for p in EVENTS.glob("*.json")}
    assert samples == set(HANDLER_NAMES)


@pytest.mark.parametrize("name", HANDLER_NAMES)
def test_sample_validates_against_the_handler_model(name: str) -> None:
    # Given the sample and the model its handler parses with
    sample = load(EVENTS / f"{name}.json")
    model = request_model(name)

    # When it is validated as the handler does
    request = model.model_validate(sample)

    # Then it is accepted, and nothing in it is silently defaulted away
    assert request.model_dump(by_alias=True, exclude_unset=True).keys() == sample.keys()


@pytest.mark.parametrize("name", HANDLER_NAMES)
def test_sample_without_a_required_key_is_rejected(name: str) -> None:
    # Given the sample and its model's required keys (every model has at least one)
    sample = load(EVENTS / f"{name}.json")
    model = request_model(name)
    keys = required_keys(model)
    assert keys, f"{model.__name__} has no required field"

    for key in keys:
        # When a copy loses that key
        corrupted = {k: v for k, v in sample.items() if k != key}

        # Then validation fails, naming it
        with pytest.raises(ValidationError, match=key):
            model.model_validate(corrupted)


def test_samples_share_one_migration() -> None:
    # Given the preflight sample's target group, the id every other sample must use
    preflight = load(EVENTS / "preflight.json")
    migration_id = migration_id_for_target_group(preflight["targetGroupArn"])

    for name in HANDLER_NAMES:
        sample = load(EVENTS / f"{name}.json")
        carried = sample.get("detail", sample).get("migrationId", migration_id)
        assert carried == migration_id, name
    # and the ARNs are in the sample account and region
    assert preflight["targetGroupArn"].split(":")[3:5] == [REGION, ACCOUNT]
    assert preflight["owner"].startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:")


def test_replay_sample_is_a_replayed_rollback_trigger() -> None:
    sample = load(EVENTS / "replay_rollback.json")
    event = request_model("replay_rollback").model_validate(sample)
    detail = sample["detail"]

    # A live event would be ignored by the handler; the sample must exercise the rollback.
    assert event.replay_name is not None  # type: ignore[attr-defined]
    assert replay_applies_to(event.replay_name, detail["migrationId"])  # type: ignore[attr-defined]
    assert sample["source"] == EVENT_SOURCE
    assert sample["detail-type"] in ROLLBACK_TRIGGERS
    assert (sample["account"], sample["region"]) == (ACCOUNT, REGION)


# ---- state-machine inputs ------------------------------------------------------------------


def as_preflight(sample: dict[str, Any]) -> PreflightRequest:
    """An execution input as its Preflight state receives it: the same keys plus the owner."""
    return PreflightRequest.model_validate({**sample, "owner": "sample-execution"})


def test_every_state_machine_has_an_input_sample() -> None:
    machines = {p.name.removesuffix(".asl.json") for p in STATE_MACHINES.glob("*.asl.json")}
    samples = {p.stem for p in state_machine_samples()}
    assert machines, "no statemachine/*.asl.json found"
    assert machines <= samples, f"missing events/statemachine/ samples: {machines - samples}"


@pytest.mark.parametrize(
    "path",
    [p for p in state_machine_samples() if p.stem.startswith("migrate")],
    ids=lambda p: p.stem,
)
def test_migrate_input_samples_validate(path: Path) -> None:
    sample = load(path)

    request = as_preflight(sample)

    assert request.target_group_arn == sample["targetGroupArn"]
    with pytest.raises(ValidationError, match="targetGroupArn"):
        as_preflight({k: v for k, v in sample.items() if k != "targetGroupArn"})


def test_migrate_sample_spells_out_the_production_defaults() -> None:
    # The sample documents the defaults; this keeps it from drifting when one changes.
    sample = load(EVENTS / "statemachine" / "migrate.json")
    assert sample["options"] == MigrationOptions().to_json_dict()


def test_migrate_fast_sample_never_waits_long() -> None:
    options = MigrationOptions.model_validate(
        load(EVENTS / "statemachine" / "migrate-fast.json")["options"]
    )
    assert max(options.poll_seconds, options.bake_seconds, options.drain_seconds) <= 1
    assert options.finalize_after_seconds is None or options.finalize_after_seconds <= 1
    assert not (options.approve_before_cutover or options.approve_before_finalize)
