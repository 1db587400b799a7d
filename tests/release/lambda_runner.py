"""Runs inside the stand-in for Lambda's python3.13 (``python -I``), never in the test process.

Reads one JSON request on stdin: ``paths`` (put first on sys.path, in Lambda's order) and
either ``imports`` (handler strings to import; or ``modules``, plain module names) or
``invoke`` (one handler, its event and the function's name). Prints one JSON line: what was
imported and from where, or the handler's result, or its error as Lambda reports one
(errorType, errorMessage); both say where the modules that matter came from.
"""

import importlib
import json
import sys
import time
import traceback
import uuid


class LambdaContext:
    """The attributes Powertools reads from Lambda's context object."""

    def __init__(self, function_name, timeout_seconds=60):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "release-check"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load(handler):
    module_name, _, attribute = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def origin(module_name):
    module = sys.modules.get(module_name)
    return getattr(module, "__file__", None) if module else None


TIMED_MARKER = "-- timed imports --"
MODULES = (
    "ipsync_migrator",
    "aws_lambda_powertools",
    "pydantic",
    "pydantic_core",
    "aws_xray_sdk",
    "boto3",
    "botocore",
)


def origins():
    return {name: origin(name) for name in MODULES}


def main():
    request = json.loads(sys.stdin.read())
    sys.path[0:0] = request["paths"]
    if "imports" in request or "modules" in request:
        failures = {}
        # What `-X importtime` prints from here on is the import under test, not the runner's.
        sys.stderr.write(f"{TIMED_MARKER}\n")
        sys.stderr.flush()
        started, cpu_started = time.perf_counter(), time.process_time()
        for name in request.get("modules", []):
            try:
                importlib.import_module(name)
            except BaseException as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
        for handler in request.get("imports", []):
            try:
                load(handler)
            except BaseException as exc:  # report every failure, as Lambda's Init would
                failures[handler] = f"{type(exc).__name__}: {exc}"
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        print(
            json.dumps(
                {
                    "failures": failures,
                    "importSeconds": round(seconds, 4),
                    # CPU time: what a shared machine's load changes least.
                    "importCpuSeconds": round(cpu_seconds, 4),
                    "origins": origins(),
                    "loaded": sorted(m for m in sys.modules if m.startswith("ipsync_migrator")),
                }
            )
        )
        return
    invoke = request["invoke"]
    started = time.monotonic()
    try:
        handler = load(invoke["handler"])
        result = handler(invoke["event"], LambdaContext(invoke["functionName"]))
        outcome = {"result": result}
    except Exception as exc:
        outcome = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exc().splitlines()[-12:],
        }
    outcome["seconds"] = round(time.monotonic() - started, 3)
    outcome["origins"] = origins()
    print(json.dumps(outcome, default=str))


if __name__ == "__main__":
    main()
