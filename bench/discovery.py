"""Benchmark `discover()` against a moto server holding a large synthetic estate.

Run with `make bench` (or `.venv/bin/python -m bench.discovery --write-docs` to refresh
docs/benchmarks.md). It measures wall time and the AWS API calls per operation at two
scales, to show that calls grow with list pages and with the deployments and load balancers
involved, never with functions x target groups.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import statistics
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.discovery import discover
from ipsync_migrator.local.estate import EstateBuilder, LoadBalancer, Vpc
from ipsync_migrator.models import Verdict

REGION = "us-east-1"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
#: The small row is every count of the large one divided by this.
SMALL_FACTOR = 4
#: Seeding is not measured; a few workers overlap botocore's client-side work with moto's.
SEED_WORKERS = 4
VARIANTS = ("v1", "v2", "hostname")
#: Legacy deployment i is of a kind chosen by i % 20: mostly migratable, some of each other
#: verdict, so discovery walks every branch.
KIND_CYCLE = 20
ORPHANED_AT, TLS_LISTENER_AT, ALB_ELSEWHERE_AT = 7, 13, 17
#: List operations discovery pages through, with the page size it asks for. moto 5.2 returns
#: every function and every target group in one response whatever the page size, so the
#: AWS projection replaces those counts by the number of pages AWS would serve.
PAGED_LISTS = {
    "lambda:ListFunctions": ("functions", 50),
    "elbv2:DescribeTargetGroups": ("target_groups", 400),
    "elbv2:DescribeLoadBalancers": ("load_balancers", 400),
}
#: The operations discovery calls once (or so) per legacy deployment.
PER_DEPLOYMENT = (
    "lambda:ListTags",
    "lambda:GetFunctionConcurrency",
    "events:ListTargetsByRule",
    "elbv2:DescribeTargetGroupAttributes",
    "elbv2:DescribeTargetHealth",
    "elbv2:DescribeTags",
)
#: Public variants among the legacy deployments (i % KIND_CYCLE): parameters in the schedule
#: target's Input with camelCase names, the ALB named by its name, or by its ARN suffix.
INPUT_AT, BY_NAME_AT, BY_SUFFIX_AT = 3, 5, 9
DECOY_VARIABLES = ("ALB_DNS_NAME", "NLB_TG_ARN", "TARGET_FQDN", "ELB_TG_ARN")


@dataclass(frozen=True)
class Scale:
    functions: int
    legacy: int
    target_groups: int
    load_balancers: int

    def divided_by(self, factor: int) -> Scale:
        return Scale(
            functions=max(self.functions // factor, 1),
            legacy=max(self.legacy // factor, 1),
            target_groups=max(self.target_groups // factor, 1),
            load_balancers=max(self.load_balancers // factor, 2),
        )

    @property
    def label(self) -> str:
        return (
            f"{self.functions} fn ({self.legacy} legacy), "
            f"{self.target_groups} TG, {self.load_balancers} LB"
        )

    @property
    def albs(self) -> int:
        return self.load_balancers // 2

    @property
    def nlbs(self) -> int:
        return self.load_balancers - self.albs

    def legacy_groups(self) -> int:
        return sum(1 for i in range(self.legacy) if _kind(i) != Verdict.ORPHANED)

    def alb_type_groups(self) -> int:
        """Groups already migrated by hand (an ALB registered), one per ALB at most."""
        return min((self.target_groups - self.legacy_groups()) // 10, self.albs, self.nlbs)

    def expected_verdicts(self) -> Counter[str]:
        return Counter(str(_kind(i)) for i in range(self.legacy))

    def validate(self) -> None:
        if not 0 < self.legacy <= self.functions:
            raise SystemExit("--legacy must be between 1 and --functions")
        if self.load_balancers < 2:
            raise SystemExit("--load-balancers must be at least 2 (ALBs and NLBs)")
        if self.target_groups < self.legacy_groups():
            raise SystemExit(
                f"--target-groups must be at least {self.legacy_groups()} "
                "(one per legacy deployment that is not orphaned)"
            )


@dataclass(frozen=True)
class Result:
    scale: Scale
    seconds: list[float]
    calls: Counter[str]
    verdicts: Counter[str]
    found: int
    stable: bool

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def pages_on_aws(self, operation: str) -> int:
        """Calls of a paged list operation against AWS (measured count for other operations)."""
        if operation not in PAGED_LISTS:
            return self.calls[operation]
        attribute, page_size = PAGED_LISTS[operation]
        return max(math.ceil(getattr(self.scale, attribute) / page_size), 1)

    @property
    def projected_calls(self) -> int:
        """Total calls against AWS: as measured, with AWS's page counts for the lists."""
        return sum(self.pages_on_aws(op) for op in self.calls)

    @property
    def sane(self) -> bool:
        return self.found == self.scale.legacy and self.verdicts == self.scale.expected_verdicts()


def _kind(index: int) -> Verdict:
    """The verdict legacy deployment `index` is built to get."""
    if index % KIND_CYCLE == ORPHANED_AT:
        return Verdict.ORPHANED
    if index % KIND_CYCLE in (TLS_LISTENER_AT, ALB_ELSEWHERE_AT):
        return Verdict.BLOCKED
    return Verdict.MIGRATABLE


# --- the emulator -----------------------------------------------------------------------


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free local port; yields its endpoint URL."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset(endpoint: str) -> None:
    """Empty every moto backend (backends are process-wide, shared by all servers)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


# --- the estate -------------------------------------------------------------------------


def _run(tasks: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(SEED_WORKERS) as pool:
        return list(pool.map(lambda task: task(), tasks))


def seed(clients: ClientFactory, scale: Scale) -> None:
    """Create the synthetic estate of `scale` in whatever `clients` points at."""
    b = EstateBuilder(clients)
    elb = clients.client("elbv2")
    vpc = b.vpc("10.0.0.0/16", zones=("a", "b"))
    account = clients.client("sts").get_caller_identity()["Account"]
    # The role is created lazily by the first function: create one before going parallel.
    b.function("bench-warm-up", {"PURPOSE": "creates the shared role"})
    lambdas = clients.client("lambda")
    lambdas.delete_function(FunctionName="bench-warm-up")

    albs: list[LoadBalancer] = _run(
        [lambda k=k: b.alb(f"bench-alb-{k:04d}", vpc) for k in range(scale.albs)]
    )
    nlbs: list[LoadBalancer] = _run(
        [lambda k=k: b.nlb(f"bench-nlb-{k:04d}", vpc) for k in range(scale.nlbs)]
    )
    _seed_other_groups(b, elb, vpc, albs, nlbs, scale)
    legacy_groups = _run(
        [lambda i=i: _legacy_group(b, vpc, i, account) for i in range(scale.legacy)]
    )
    # Listeners only once every group exists: moto's CreateListener iterates the backend's
    # target groups unlocked, so a group created meanwhile fails it (HTTP 500).
    _run(
        [
            lambda i=i: _legacy_listener(b, nlbs, legacy_groups[i], i, scale)
            for i in range(scale.legacy)
            if _kind(i) != Verdict.ORPHANED
        ]
    )
    functions: list[Callable[[], Any]] = [
        lambda i=i: _legacy_function(b, albs, legacy_groups[i], i) for i in range(scale.legacy)
    ]
    functions += [
        lambda j=j: _ordinary_function(b, j) for j in range(scale.functions - scale.legacy)
    ]
    _run(functions)


def _seed_other_groups(
    b: EstateBuilder,
    elb: Any,
    vpc: Vpc,
    albs: list[LoadBalancer],
    nlbs: list[LoadBalancer],
    scale: Scale,
) -> None:
    """Target groups that are not legacy: a few alb-type ones, the rest instance groups."""
    alb_type = scale.alb_type_groups()
    others = scale.target_groups - scale.legacy_groups()

    def alb_type_group(k: int) -> None:
        arn = elb.create_target_group(
            Name=f"bench-albtg-{k:04d}", Protocol="TCP", Port=80, VpcId=vpc.id, TargetType="alb"
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": albs[k].arn, "Port": 80}])
        b.listener(nlbs[k], 9000, arn)

    def instance_group(k: int) -> None:
        arn = elb.create_target_group(
            Name=f"bench-app-{k:04d}", Protocol="HTTP", Port=8080, VpcId=vpc.id
        )["TargetGroups"][0]["TargetGroupArn"]
        if k < len(albs):  # half the estate's groups serve an ALB listener, half are idle
            elb.create_listener(
                LoadBalancerArn=albs[k].arn,
                Port=8080,
                Protocol="HTTP",
                DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
            )

    _run([lambda k=k: alb_type_group(k) for k in range(alb_type)])
    _run([lambda k=k: instance_group(k) for k in range(others - alb_type)])


def _legacy_group(b: EstateBuilder, vpc: Vpc, i: int, account: str) -> str:
    """The legacy IP group of deployment `i` (or a deleted one's ARN)."""
    if _kind(i) == Verdict.ORPHANED:
        return f"arn:aws:elasticloadbalancing:{REGION}:{account}:targetgroup/gone-{i:04d}/0f0f0f0f"
    return b.ip_target_group(f"legacy-{i:04d}-tg", vpc, port=80)


def _legacy_listener(
    b: EstateBuilder, nlbs: list[LoadBalancer], group_arn: str, i: int, scale: Scale
) -> None:
    """The NLB listener forwarding to deployment `i`'s legacy group."""
    protocol = "TLS" if i % KIND_CYCLE == TLS_LISTENER_AT else "TCP"
    b.listener(nlbs[i % scale.nlbs], 10000 + i // scale.nlbs, group_arn, protocol=protocol)


def _legacy_function(b: EstateBuilder, albs: list[LoadBalancer], group_arn: str, i: int) -> str:
    alb = albs[i % len(albs)]
    if i % KIND_CYCLE == INPUT_AT:
        arn = b.function(f"legacy-ipsync-{i:04d}", {"logLevel": "INFO"}, handler="index.main")
        params = {"albDnsName": alb.dns_name, "nlbTargetGroupArn": group_arn, "targetPort": 80}
        b.schedule(
            f"legacy-ipsync-{i:04d}-every-minute", arn, "cron(* * * * ? *)", target_input=params
        )
        return arn
    if i % KIND_CYCLE in (BY_NAME_AT, BY_SUFFIX_AT):
        name = alb.name if i % KIND_CYCLE == BY_NAME_AT else alb.arn.split(":loadbalancer/")[1]
        env = {"ALB_NAME": name, "NLB_TG_ARN": group_arn, "ALB_LISTENER": "80", "S3_BUCKET": "s"}
        arn = b.function(f"legacy-ipsync-{i:04d}", env, handler="sync.main", runtime="python2.7")
        b.schedule(f"legacy-ipsync-{i:04d}-schedule", arn, "rate(1 minute)")
        return arn
    variant = VARIANTS[i % len(VARIANTS)]
    dns_name = alb.dns_name
    if i % KIND_CYCLE == ALB_ELSEWHERE_AT:
        dns_name = f"gone-{i:04d}-1234567890.eu-west-1.elb.amazonaws.com"
    elif i % 4 == 1:
        dns_name = dns_name.upper() + "."  # as users wrote it
    return b.legacy_function(
        f"legacy-ipsync-{i:04d}",
        dns_name,
        group_arn,
        alb_port=80,
        variant=variant,
        same_vpc=True if variant == "v2" else None,
        handler="populate_NLB_TG_with_ALB.lambda_handler" if i % 2 else f"sync_{i}.main",
        stack_name=f"legacy-stack-{i:04d}" if i % 5 == 0 else None,
    )


def _ordinary_function(b: EstateBuilder, j: int) -> str:
    name = f"app-{j:05d}"
    env = {"LOG_LEVEL": "INFO", "TABLE_NAME": f"orders-{j}"}
    if j % 10 == 0:  # a decoy: one variable that looks like the legacy function's
        env[DECOY_VARIABLES[(j // 10) % len(DECOY_VARIABLES)]] = f"decoy-{j}.example.com"
    arn = b.function(name, env)
    if j % 20 == 3:
        b.schedule(f"{name}-nightly", arn, "cron(0 3 * * ? *)")
    return arn


# --- the measurement --------------------------------------------------------------------


def measure(endpoint: str, scale: Scale, repeat: int) -> Result:
    """Seed `scale`, then time `discover()` `repeat` times with a fresh client factory."""
    reset(endpoint)
    started = time.perf_counter()
    seed(ClientFactory(AwsTarget(region=REGION, endpoint_url=endpoint)), scale)
    print(f"  seeded {scale.label} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    seconds: list[float] = []
    runs: list[Counter[str]] = []
    report = None
    for _ in range(repeat):
        calls: Counter[str] = Counter()
        clients = ClientFactory(
            AwsTarget(region=REGION, endpoint_url=endpoint),
            observer=lambda service, operation, calls=calls: calls.update(
                [f"{service}:{operation}"]
            ),
        )
        started = time.perf_counter()
        report = discover(clients)
        seconds.append(time.perf_counter() - started)
        runs.append(calls)
    assert report is not None
    return Result(
        scale=scale,
        seconds=seconds,
        calls=runs[-1],
        verdicts=Counter(str(d.verdict) for d in report.deployments),
        found=len(report.deployments),
        stable=all(run == runs[0] for run in runs),
    )


# --- the output -------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    right = [c > 0 for c in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [
            cell.rjust(w) if r else cell.ljust(w)
            for cell, w, r in zip(row, widths, right, strict=True)
        ]
        return "| " + " | ".join(cells) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if r else ("-" * (w + 2))
            for w, r in zip(widths, right, strict=True)
        )
        + "|"
    )
    return [line(header), rule, *(line(row) for row in rows)]


def summary_table(results: list[Result]) -> list[str]:
    rows = [
        [
            r.scale.label,
            f"{min(r.seconds):.2f}",
            f"{statistics.median(r.seconds):.2f}",
            str(r.total_calls),
            str(r.projected_calls),
            ", ".join(f"{v} {n}" for v, n in sorted(r.verdicts.items())),
            "ok" if r.sane else "MISMATCH",
        ]
        for r in results
    ]
    header = [
        "scale",
        "wall min (s)",
        "wall median (s)",
        "API calls (moto)",
        "on AWS (projected)",
        "verdicts",
        "sanity",
    ]
    return _table(header, rows)


def calls_table(small: Result, large: Result) -> list[str]:
    operations = sorted(set(small.calls) | set(large.calls))

    def growth(before: int, after: int) -> str:
        return f"x{after / before:.1f}" if before else "new"

    rows = [
        [
            op,
            str(small.calls[op]),
            str(large.calls[op]),
            growth(small.calls[op], large.calls[op]),
            str(small.pages_on_aws(op)),
            str(large.pages_on_aws(op)),
        ]
        for op in operations
    ]
    rows.append(
        [
            "**total**",
            str(small.total_calls),
            str(large.total_calls),
            growth(small.total_calls, large.total_calls),
            str(small.projected_calls),
            str(large.projected_calls),
        ]
    )
    header = ["operation", "small", "large", "growth", "small on AWS", "large on AWS"]
    return _table(header, rows)


def interpretation(small: Result, large: Result) -> list[str]:
    s, g = small.scale, large.scale
    product = (g.functions * g.target_groups) / (s.functions * s.target_groups)
    per_legacy = sum(large.calls[op] for op in PER_DEPLOYMENT) / g.legacy
    involved_lbs = large.calls["elbv2:DescribeListeners"]
    return [
        f"- From the small to the large estate, functions, legacy deployments, target groups "
        f"and load balancers each grow about x{g.functions / s.functions:.0f}, so functions x "
        f"target groups grows x{product:.0f}; API calls grow "
        f"x{large.total_calls / small.total_calls:.1f} (x"
        f"{large.projected_calls / small.projected_calls:.1f} projected on AWS): linearly, "
        "not with the product.",
        "- The account-wide lists are read once each: `ListFunctions` in pages of 50, "
        "`DescribeLoadBalancers` and `DescribeTargetGroups` in pages of 400. moto 5.2 ignores "
        "the page size of `ListFunctions` and `DescribeTargetGroups` (one response holds "
        "everything), so the *on AWS* columns replace those counts by AWS's page counts "
        f"({large.pages_on_aws('lambda:ListFunctions')} `ListFunctions` pages for "
        f"{g.functions} functions). Ordinary functions cost nothing beyond their share of a "
        "page.",
        "- Schedule rules are listed once (`ListRules`), then one `ListTargetsByRule` per "
        "schedule rule (the legacy functions' and the ordinary functions' own): parameters may "
        "be in a target's Input. Everything else is per legacy deployment (function tags, "
        "reserved concurrency, the IP group's targets, target group attributes, tags: "
        f"{per_legacy:.1f} calls per deployment on average, orphans need fewer) or per load "
        f"balancer involved (listeners and attributes, read once each and cached: "
        f"{involved_lbs} load balancers here).",
        f"- `DescribeTargetHealth` is one call per legacy IP group and one per `alb`-type "
        f"target group in the account ({large.calls['elbv2:DescribeTargetHealth']} here): it "
        "grows with the deployments and the estate's alb groups. The ALBs' ENIs are one "
        "`DescribeNetworkInterfaces` list, the functions' Errors and Throttles one "
        "`GetMetricData` per 250 legacy functions.",
        f"- Wall time (median {statistics.median(large.seconds):.1f} s for "
        f"{large.total_calls} calls) is the emulator's per-request cost on this machine; "
        "against AWS, network latency per call and ELB API throttling dominate instead, so "
        "the call count is the number to watch.",
    ]


def render_docs(small: Result, large: Result, repeat: int) -> str:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        "# Benchmarks",
        "",
        "## Discovery at scale",
        "",
        "`discover()` (read-only: find and classify every legacy IP-sync deployment) against a "
        "moto server holding a synthetic estate. Reproduce with:",
        "",
        "```",
        "make bench                                        # prints the tables",
        ".venv/bin/python -m bench.discovery --write-docs  # also rewrites this file",
        "```",
        "",
        f"- Date: {today}",
        f"- Machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; moto {version('moto')} server on 127.0.0.1 "
        f"(in the benchmark's process), boto3 {version('boto3')}.",
        f"- Each scale is seeded once, then `discover()` runs {repeat} times, each with a fresh "
        "`ClientFactory`; API calls are counted by the factory's observer (one per request "
        "botocore sends, retries included).",
        f"- The estate: one legacy deployment in {KIND_CYCLE} is orphaned (its target group is "
        "gone), two are blocked (a TLS listener on the NLB; an ALB in another region), the rest "
        "are migratable; variants v1, v2 and hostname in turn, and in each cycle one with its "
        "parameters in the schedule target's Input (camelCase, cron), one naming its ALB by "
        "name and one by its ARN suffix (python2.7); each legacy function has an "
        "EventBridge schedule. One ordinary function in 10 is a decoy with one legacy-looking "
        "variable, one in 20 has a schedule of its own. Half the load balancers are ALBs, half "
        "NLBs; besides the legacy IP groups there are instance groups (half behind ALB "
        "listeners) and a few `alb`-type groups already in place.",
        "",
        "### Results",
        "",
        *summary_table([small, large]),
        "",
        "### API calls per operation",
        "",
        *calls_table(small, large),
        "",
        "### Interpretation",
        "",
        *interpretation(small, large),
        "",
    ]
    return "\n".join(lines)


def with_other_sections(discovery: str) -> str:
    """The docs with this section replaced and the other benchmarks' sections kept."""
    current = DOCS.read_text() if DOCS.exists() else ""
    start = current.find("## Discovery at scale")
    end = current.find("\n## ", start + 1) if start >= 0 else -1
    rest = current[end + 1 :] if end >= 0 else ""
    return discovery.rstrip("\n") + "\n" + ("\n" + rest if rest else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.discovery", description=__doc__)
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--legacy", type=int, default=200)
    parser.add_argument("--target-groups", type=int, default=400)
    parser.add_argument("--load-balancers", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite {DOCS.name}")
    args = parser.parse_args(argv)
    large = Scale(args.functions, args.legacy, args.target_groups, args.load_balancers)
    small = large.divided_by(SMALL_FACTOR)
    for scale in (small, large):
        scale.validate()

    with moto_server() as endpoint:
        results = [measure(endpoint, scale, max(args.repeat, 1)) for scale in (small, large)]
    small_result, large_result = results

    print("\n".join(["", *summary_table(results), "", *calls_table(small_result, large_result)]))
    print("\n".join(["", *interpretation(small_result, large_result)]))
    problems = [
        f"{r.scale.label}: found {r.found} deployments ({dict(r.verdicts)}), expected "
        f"{r.scale.legacy} ({dict(r.scale.expected_verdicts())})"
        for r in results
        if not r.sane
    ]
    problems += [
        f"{r.scale.label}: API calls differ between repeats" for r in results if not r.stable
    ]
    if args.write_docs:
        DOCS.write_text(
            with_other_sections(render_docs(small_result, large_result, max(args.repeat, 1)))
        )
        print(f"\nWrote {DOCS}")
    for problem in problems:
        print(f"SANITY CHECK FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
