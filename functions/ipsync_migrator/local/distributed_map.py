"""Distributed Map fixes: make moto 5.2.5's Map Runs read and write S3 as Step Functions does.

moto's interpreter runs a Distributed Map with an ItemReader (``s3:getObject``, JSON) as AWS
does, but four things differ, each fixed here while installed (``LocalRuntime`` installs
it; ``tests/integration/local/test_runtime.py`` pins the moto behaviour each fix relies on):

1. The ResultWriter evaluates its ``Parameters`` paths against the Map's results instead of
   the state's input, so ``"Bucket.$": "$.fleet.bucket"`` fails with States.Runtime. AWS
   resolves them against the state's input (step-functions/latest/dg/
   iam-policies-eg-dist-map.html: a bucket or prefix "with a reference path to an existing
   key-value pair in your Distributed Map state input").
2. The ResultWriter writes only a manifest whose ``ResultFiles`` lists are empty (moto's
   "TODO: generate result files"). AWS writes, under ``<Prefix>/<map run id>/``, one file per
   status, each a JSON array of the child executions (ExecutionArn, Input, Output, Status,
   Error and Cause when failed, ...), and a ``manifest.json`` listing them by status
   (``SUCCEEDED``, ``FAILED``, ``PENDING``: ``{"Key", "Size"}`` each), then returns
   ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`` (step-functions/latest/dg/
   input-output-resultwriter.html). Written here from what each child did: its input (after
   the ItemSelector), outcome and output. PENDING stays empty (a Map Run that ends early
   fails the state before its ResultWriter runs).
3. A worker takes its next item by recursing (``_eval_pool`` calls itself once per item):
   past roughly 900 items per worker it dies of RecursionError and the execution waits
   forever. Here it loops.
4. Every service call of a task (``boto_client_for``) builds a new boto3 client from boto3's
   default session: about 20 ms each, and a Map's workers do it at once, which a boto3
   session does not support. Here each client is built once per service, region and
   endpoint, under a lock, and shared (boto3 clients are thread-safe).

Lambda code never imports this.
"""

from __future__ import annotations

import copy
import datetime
import json
import sys
import threading
import uuid
from typing import Any

__all__ = ["DistributedMapFixes", "decimal_tolerances"]

#: Where a map run record keeps what its children did (index -> child), set by fix 2.
_CHILDREN = "_ipsync_children"
_FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


class DistributedMapFixes:
    """The fixes above, installed on moto's classes and modules and removed exactly."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []
        self._lock = threading.Lock()

    def install(self) -> DistributedMapFixes:
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (  # noqa: E501
            distributed_item_processor_worker as worker_module,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import (
            result_writer_decl,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (  # noqa: E501
            resource_eval_s3,
        )
        from moto.stepfunctions.parser.asl.utils import boto_client

        with self._lock:
            if self._saved:
                return self
            worker = worker_module.DistributedItemProcessorWorker
            writer = result_writer_decl.ResultWriter
            s3_eval = resource_eval_s3.ResourceEvalS3
            patches: list[tuple[Any, str, Any]] = [
                (writer, "_eval_body", _writer_eval_body),
                (s3_eval, "_handle_put_object", staticmethod(_handle_put_object)),
                (worker, "_eval_pool", _eval_pool),
                (worker, "_eval_input", _recording_eval_input(worker._eval_input)),
                (worker, "_eval_job", _recording_eval_job(worker._eval_job)),
            ]
            # Fix 4: every module of the interpreter that imported moto's client factory.
            original = boto_client.boto_client_for
            shared = _shared_clients(original)
            patches += [
                (module, "boto_client_for", shared)
                for name, module in sorted(sys.modules.items())
                if name.startswith("moto.stepfunctions.parser")
                and getattr(module, "boto_client_for", None) is original
            ]
            for owner, name, replacement in patches:
                self._saved.append((owner, name, owner.__dict__.get(name)))
                setattr(owner, name, replacement)
        return self

    def uninstall(self) -> None:
        with self._lock:
            for owner, name, saved in reversed(self._saved):
                if saved is None:  # inherited, not the class's own: remove the override
                    delattr(owner, name)
                else:
                    setattr(owner, name, saved)
            self._saved = []


# ---- 1: the ResultWriter's parameters, against the state's input ---------------------------


def _writer_eval_body(writer: Any, env: Any) -> None:
    """Relies on: StateMap evaluates the ResultWriter right after the map run, which leaves
    the results on top of the stack and the state's input under them."""
    results = env.stack.pop()
    writer.parargs.eval(env=env)  # now against the state's input, as on AWS
    parameters = env.stack.pop()
    env.stack.append(results)
    env.stack.append(parameters)
    writer.resource_eval.eval_resource(env=env)


# ---- 2: what each child did, and the result files --------------------------------------------


def _children(record: Any) -> dict[int, dict[str, Any]]:
    children = record.__dict__.get(_CHILDREN)
    if children is None:
        # setdefault: workers of one map run start together, in their own threads.
        children = record.__dict__.setdefault(_CHILDREN, {})
    return children  # type: ignore[no-any-return]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _recording_eval_input(original: Any) -> Any:
    """Relies on: ``_eval_input(env_frame)`` runs with the item in ``$$.Map.Item`` and leaves
    the child's input (after ItemSelector/Parameters) as the frame's state input."""

    def eval_input(worker: Any, env_frame: Any) -> None:
        original(worker, env_frame)
        index = env_frame.states.context_object.context_object_data["Map"]["Item"]["Index"]
        _children(worker._map_run_record)[index] = {
            "input": copy.deepcopy(env_frame.states.get_input()),
            "start": _now(),
        }

    return eval_input


def _recording_eval_job(original: Any) -> Any:
    """Relies on: after ``_eval_job`` the job frame's program state says how the child ended
    (ProgramEnded, ProgramError with its error and cause, ProgramStopped, ProgramTimedOut) and
    ``job.job_output`` holds a succeeded child's output."""
    from moto.stepfunctions.parser.asl.eval.program_state import (
        ProgramEnded,
        ProgramError,
        ProgramStopped,
        ProgramTimedOut,
    )

    def eval_job(worker: Any, env: Any, job: Any) -> None:
        original(worker, env, job)
        state = env.program_state()
        child = _children(worker._map_run_record).setdefault(
            job.job_index, {"input": copy.deepcopy(job.job_input), "start": _now()}
        )
        child["stop"] = _now()
        if isinstance(state, ProgramEnded):
            child.update(status="SUCCEEDED", output=copy.deepcopy(job.job_output))
        elif isinstance(state, ProgramStopped):
            child["status"] = "ABORTED"
        elif isinstance(state, ProgramTimedOut):
            child["status"] = "TIMED_OUT"
        else:
            error = state.error if isinstance(state, ProgramError) else None
            child.update(
                status="FAILED",
                error=(error or {}).get("error", "States.Runtime"),
                cause=(error or {}).get("cause", ""),
            )

    return eval_job


def _handle_put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """Replaces ``ResourceEvalS3._handle_put_object``: the same manifest and state output,
    and the result files it lists. Relies on: the stack holds the results, then the
    parameters; the map run's record is the pool's last; ``_get_s3_client`` gives the S3
    client of the interpreter (the server's own endpoint in server mode)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    parameters = env.stack.pop()
    env.stack.pop()  # the results: the files below hold them, with each child's metadata
    s3 = ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    record = env.map_run_record_pool_manager.get_all()[-1]
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = f"{prefix}{record.map_run_arn.rsplit(':', 1)[-1]}/"
    entries: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": []}
    for _, child in sorted(_children(record).items()):
        status = child.get("status", "FAILED")
        entries["SUCCEEDED" if status == "SUCCEEDED" else "FAILED"].append(
            _execution_entry(record, child, status)
        )
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status, listed in entries.items():
        if listed:
            key = f"{folder}{status}_0.json"
            body = json.dumps(listed).encode("utf-8")
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
    manifest_key = f"{folder}manifest.json"
    manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode("utf-8"))
    env.stack.append(
        {
            "MapRunArn": record.map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
        }
    )


def _execution_entry(record: Any, child: dict[str, Any], status: str) -> dict[str, Any]:
    """One child workflow execution as a result file lists it."""
    name = str(uuid.uuid4())
    machine = str(record.map_state_machine_arn)  # <state machine>/<label>, as on AWS
    entry: dict[str, Any] = {
        "ExecutionArn": machine.replace(":stateMachine:", ":execution:", 1) + ":" + name,
        "Input": json.dumps(child.get("input")),
        "InputDetails": {"Included": True},
        "Name": name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE" if status == "SUCCEEDED" else "REDRIVABLE",
        "StartDate": child.get("start"),
        "StateMachineArn": machine,
        "Status": status,
        "StopDate": child.get("stop"),
    }
    if status == "SUCCEEDED":
        entry["Output"] = json.dumps(child.get("output"))
        entry["OutputDetails"] = {"Included": True}
    elif status in _FAILED_STATUSES:
        entry["Error"] = child.get("error") or f"States.{status.title().replace('_', '')}"
        entry["Cause"] = child.get("cause") or ""
    return entry


# ---- 3: one loop per worker, not one stack frame per item ------------------------------------


def _eval_pool(worker: Any, job: Any, worker_frame: Any) -> None:
    """``DistributedItemProcessorWorker._eval_pool`` as a loop: the same steps per item
    (inner frame, evaluate, delete; stop on a job exception or a stop signal; close the job
    once the next one is taken, or after the frame is gone for the last one)."""
    while job is not None:
        job_frame = worker_frame.open_inner_frame()
        worker._eval_job(env=job_frame, job=job)
        worker_frame.delete_frame(job_frame)
        if isinstance(job.job_output, Exception) or worker.stopped():
            break
        next_job = worker._job_pool.next_job()
        if next_job is None:
            break
        worker._job_pool.close_job(job)
        job = next_job
    worker._env.delete_frame(worker_frame)
    if job is not None:
        worker._job_pool.close_job(job)


# ---- 4: one client per service, region and endpoint ----------------------------------------


def _shared_clients(original: Any) -> Any:
    """Relies on: ``boto_client_for(region, service, state_credentials)`` builds the same client
    (fixed fake credentials, moto's config) whenever the stubber state and server port are the
    same; ``state_credentials`` is not used."""
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    clients: dict[tuple[Any, ...], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, botocore_stubber.enabled, moto_server_port())
        with lock:
            if key not in clients:
                clients[key] = original(
                    region=region, service=service, state_credentials=state_credentials
                )
            return clients[key]

    return boto_client_for


# ---- the definition: a number moto's grammar reads -------------------------------------------


def decimal_tolerances(definition: Any) -> bool:
    """Write integer ``ToleratedFailurePercentage`` values as decimals (100 -> 100.0), in place.

    moto's ASL grammar accepts only its NUMBER token there, and lexes ``100`` as INT: the
    definition fails to parse ("no viable alternative"). ``100.0`` is the same JSON number
    for AWS. Returns whether anything changed.
    """
    changed = False
    pending = [definition]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            value = node.get("ToleratedFailurePercentage")
            if isinstance(value, int) and not isinstance(value, bool):
                node["ToleratedFailurePercentage"] = float(value)
                changed = True
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return changed
