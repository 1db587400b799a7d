"""The acceptance run cleans up: on failure, after a crash, twice; and it says what is left.

On the in-process emulator with the realism adapter (the ALB's network interfaces), so no
stack is deployed: the stack's part of the teardown is its retained table and archive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.realism import FaultRule, Realism
from tests.acceptance.endpoints import AwsEndpoint, Endpoint, acceptance_run
from tests.acceptance.estate import (
    LOCAL_WAITS,
    Names,
    Waits,
    build_estate,
    leftovers,
    teardown,
)

pytestmark = pytest.mark.skipif(
    os.environ.get("IPSYNC_ACCEPTANCE_ENDPOINT") == "aws",
    reason="emulator-only checks of the teardown; `make acceptance` runs the story",
)


class EmbeddedEndpoint(Endpoint):
    """The in-process emulator; `deploy` leaves the stack out (the run's other half)."""

    name = "embedded"
    region = "us-east-1"
    waits = LOCAL_WAITS
    migrate_timings = ()
    command_timeout = 10.0

    def __init__(self, clients: ClientFactory, waits: Waits = LOCAL_WAITS) -> None:
        self._clients = clients
        self.waits = waits
        self.deployed: list[str] = []

    def open(self, names: Names) -> None:
        pass

    def clients(self) -> ClientFactory:
        return self._clients

    def deploy(self, names: Names) -> None:
        self.deployed.append(names.stack)


@pytest.fixture
def realism(aws: ClientFactory) -> Iterator[Realism]:
    with Realism() as installed:
        yield installed


def test_a_run_whose_step_fails_is_torn_down_and_the_failure_surfaces(
    aws: ClientFactory, realism: Realism
) -> None:
    # Given a run with its estate built and "deployed"
    endpoint = EmbeddedEndpoint(aws)
    seen: list[str] = []

    # When a step of the run fails
    with (
        pytest.raises(RuntimeError, match="a step failed"),
        acceptance_run(endpoint, run_id="f41l0001") as run,
    ):
        seen.append(run.estate.vpc_id)
        raise RuntimeError("a step failed")

    # Then the failure is what the caller sees, and nothing of the run is left
    assert seen and endpoint.deployed == ["ipsync-acc-f41l0001"]
    assert leftovers(aws, "f41l0001") == []


def test_a_build_that_crashed_half_way_is_torn_down_by_run_id_alone_and_teardown_repeats(
    aws: ClientFactory, realism: Realism
) -> None:
    # Given a build that created the network, both load balancers, the IP group, the
    # listeners and the role, then crashed creating the function
    realism.add_fault(
        FaultRule(service="lambda", operation="CreateFunction", error_code="AccessDenied")
    )
    with pytest.raises(Exception, match="AccessDenied"):
        build_estate(aws, "c7a5h001", LOCAL_WAITS)
    before = leftovers(aws, "c7a5h001")
    assert {item.split()[0] for item in before} >= {"VPC", "load", "target", "role"}
    # ... and what its stack retained: the journal (deletion protection on), the archive
    # and the fleet bucket (with a file)
    names = Names("c7a5h001")
    aws.client("dynamodb").create_table(
        TableName=f"{names.stack}-JournalTable-ABCDEF123456",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=True,
    )
    events = aws.client("events")
    bus = events.create_event_bus(Name=f"{names.stack}-events")["EventBusArn"]
    events.create_archive(ArchiveName=f"{names.stack}-EventArchive-ABCDEF", EventSourceArn=bus)
    events.delete_event_bus(Name=f"{names.stack}-events")  # the stack took its bus with it
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=f"{names.stack}-fleetbucket-abcdef123456")
    s3.put_object(Bucket=f"{names.stack}-fleetbucket-abcdef123456", Key="fleets/f/items.json")

    # When the teardown runs, knowing only the run id, and then once more
    first = teardown(aws, "c7a5h001", LOCAL_WAITS)
    second = teardown(aws, "c7a5h001", LOCAL_WAITS)

    # Then the first removed everything, in order, and the second found nothing to do
    assert first.problems == [] and first.leftovers == []
    kinds = [item.split()[0] for item in first.deleted]
    assert kinds.index("table") < kinds.index("listener") < kinds.index("NLB")
    assert kinds.index("NLB") < kinds.index("target") < kinds.index("ALB") < kinds.index("VPC")
    assert {"archive", "bucket", "role"} <= set(kinds)
    assert second.deleted == [] and second.problems == [] and second.leftovers == []


def test_what_the_teardown_cannot_delete_is_reported_and_fails_the_run(
    aws: ClientFactory, realism: Realism
) -> None:
    # Given a run in an account where deleting load balancers is denied (and a teardown
    # that waits 2 s, not a minute, for the VPC's network interfaces to go)
    endpoint = EmbeddedEndpoint(aws, Waits(build=30, teardown=2, interval=0.1))
    realism.add_fault(
        FaultRule(
            service="elbv2", operation="DeleteLoadBalancer", error_code="AccessDenied", times=None
        )
    )

    # When the run ends (its steps all passed)
    with pytest.raises(AssertionError) as failed, acceptance_run(endpoint, run_id="1ef70001"):
        pass

    # Then the run fails, naming what is left over and why
    message = str(failed.value)
    assert "problem: NLB ipsacc-1ef70001-nlb: AccessDenied" in message
    assert "LEFT OVER: load balancer" in message
    assert "LEFT OVER: VPC" in message  # the VPC cannot go while its load balancers stay


def test_a_real_account_run_also_deletes_what_sam_deploy_uploaded_for_it(
    aws: ClientFactory, tmp_path: Path
) -> None:
    # Given SAM's managed bucket holding this run's artefacts and another deployment's
    cfn, s3 = aws.client("cloudformation"), aws.client("s3")
    cfn.create_stack(
        StackName="aws-sam-cli-managed-default",
        TemplateBody=json.dumps(
            {
                "Resources": {"SamCliSourceBucket": {"Type": "AWS::S3::Bucket"}},
                "Outputs": {"SourceBucket": {"Value": {"Ref": "SamCliSourceBucket"}}},
            }
        ),
    )
    [output] = cfn.describe_stacks(StackName="aws-sam-cli-managed-default")["Stacks"][0]["Outputs"]
    bucket = output["OutputValue"]
    for key in ("ipsync-acc-5a3d0001/template.json", "ipsync-acc-5a3d0001/layer.zip"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="ipsync-migrator/layer.zip", Body=b"x")

    # When the real-account endpoint tears the run down
    endpoint = AwsEndpoint(
        account="123456789012",
        region="us-east-1",
        profile=None,
        sam=tmp_path / "sam",
        build_dir=tmp_path,
    )
    result = endpoint.teardown(Names("5a3d0001"))

    # Then the run's artefacts are gone, and only those
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["ipsync-migrator/layer.zip"]
    assert "2 artefact(s) s3://.../ipsync-acc-5a3d0001/" in result.deleted
    assert result.problems == [] and result.leftovers == []
