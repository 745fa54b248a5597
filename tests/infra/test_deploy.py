"""scripts/deploy.py (behind the Makefile's deploy targets): names, tags, dry runs and refusals, without AWS.

The one path that talks to AWS for real (destroying a stack) runs against botocore's Stubber: real
clients whose requests are validated against the service models, answering what CloudFormation and S3 would."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.infra.wiring import FUNCTION_NAMES, REPO

STACK = "alchemiser-ephem-feature-my-thing-abcdef1"


@pytest.fixture
def deploy(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_script", REPO / "scripts" / "deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for variable in ("DRY_RUN", "BRANCH", "SHA", "TTL_HOURS", "STACK", "CONFIRM", "CORRELATION_ID", "STAGE", "HOURS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SAM", "sam")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("ALERT_EMAIL", "ops@example.com")  # every deploy needs it (test_alert_routes.py)
    monkeypatch.delenv("NOTIFICATION_EMAIL", raising=False)
    return module


@pytest.fixture
def nothing_runs(deploy: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the script starts any process or makes any AWS client."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"ran something in a dry run: {args}")

    monkeypatch.setattr(deploy.subprocess, "run", refuse)
    monkeypatch.setattr(deploy, "aws_client", refuse)


# ------------------------------------------------------------------------------------ ephemeral names
def test_ephemeral_stack_names_come_from_branch_and_commit(deploy: ModuleType) -> None:
    assert deploy.ephemeral_stack_name("feature/My_Thing!", "abcdef1") == STACK
    assert deploy.ephemeral_stack_name("x" * 80, "0123456") == f"alchemiser-ephem-{'x' * 40}-0123456"
    assert deploy.is_ephemeral_stack(deploy.ephemeral_stack_name("---", "0123456"))
    with pytest.raises(deploy.DeployError):
        deploy.ephemeral_stack_name("main", "HEAD")


def test_ephemeral_tags_carry_branch_and_ttl(deploy: ModuleType) -> None:
    tags = deploy.ephemeral_tags("feature/x", "abcdef1", 36, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    assert tags["stage"] == "ephemeral" and tags["branch"] == "feature/x" and tags["ttl-hours"] == "36"
    assert tags["expires-at"] == "2026-11-22T00:00:00Z"


def test_dry_run_deploy_ephemeral_prints_stack_and_tags_and_runs_nothing(
    deploy: ModuleType, nothing_runs: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRY_RUN", "1")
    monkeypatch.setenv("BRANCH", "feature/My-Thing")
    monkeypatch.setenv("SHA", "abcdef1")
    monkeypatch.setenv("TTL_HOURS", "48")
    assert deploy.main(["deploy.py", "deploy-ephemeral"]) == 0
    out = capsys.readouterr().out
    assert f"stack: {STACK}" in out
    assert "branch=feature/My-Thing" in out and "ttl-hours=48" in out and "stage=ephemeral" in out
    assert "[dry-run] sam build --template template.yaml" in out
    deploy_line = next(line for line in out.splitlines() if line.startswith("[dry-run] sam deploy"))
    assert f"--stack-name {STACK}" in deploy_line and "--config-env ephemeral" in deploy_line
    assert "InstanceSuffix=-abcdef1" in deploy_line and "ttl-hours=48" in deploy_line


def test_ttl_hours_are_checked(deploy: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("0", "-1", "1.5", "999", "day"):
        monkeypatch.setenv("TTL_HOURS", bad)
        with pytest.raises(deploy.DeployError):
            deploy.ttl_hours()


def test_make_n_deploy_ephemeral_shows_the_stack_name_and_tags() -> None:
    result = subprocess.run(
        ["make", "-n", "deploy-ephemeral", "BRANCH=feature/x", "SHA=abcdef1", "TTL_HOURS=12"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "stack: alchemiser-ephem-feature-x-abcdef1 tags:" in result.stdout
    assert "branch=feature/x" in result.stdout and "ttl-hours=12" in result.stdout
    assert "scripts/deploy.py deploy-ephemeral" in result.stdout


# ------------------------------------------------------------------------------------ destroy
@pytest.mark.parametrize(
    "stack",
    [
        "",
        "alchemiser-prod",
        "alchemiser-dev",
        "alchemiser-ephem-main",
        "alchemiser-ephem-main-abcdef1-extra",
        "prod-alchemiser-ephem-main-abcdef1",
        "alchemiser-ephem-main-ABCDEF1",
        "alchemiser-ephem-main-abcdef1; aws cloudformation delete-stack --stack-name alchemiser-prod",
    ],
)
def test_destroy_ephemeral_refuses_anything_else_before_calling_aws(
    deploy: ModuleType, nothing_runs: None, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    monkeypatch.setenv("STACK", stack)
    with pytest.raises(deploy.DeployError):
        deploy.destroy_ephemeral()
    assert deploy.main(["deploy.py", "destroy-ephemeral"]) == 1


def _clients(monkeypatch: pytest.MonkeyPatch, deploy: ModuleType) -> tuple[Stubber, Stubber]:
    cloudformation = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    clients = {"cloudformation": cloudformation, "s3": s3}
    monkeypatch.setattr(deploy, "aws_client", lambda service: clients[service])
    return Stubber(cloudformation), Stubber(s3)


def _described(tags: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "CreationTime": datetime(2026, 11, 20, tzinfo=UTC),
                "StackStatus": "CREATE_COMPLETE",
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
        ]
    }


def test_destroy_ephemeral_refuses_a_stack_not_tagged_ephemeral(
    deploy: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACK", STACK)
    cloudformation, s3 = _clients(monkeypatch, deploy)
    cloudformation.add_response("describe_stacks", _described({"stage": "prod"}), {"StackName": STACK})
    with cloudformation, s3, pytest.raises(deploy.DeployError, match="not tagged stage=ephemeral"):
        deploy.destroy_ephemeral()
    cloudformation.assert_no_pending_responses()


def test_destroy_ephemeral_empties_the_buckets_then_deletes_the_stack(
    deploy: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACK", STACK)
    cloudformation, s3 = _clients(monkeypatch, deploy)
    cloudformation.add_response("describe_stacks", _described({"stage": "ephemeral"}), {"StackName": STACK})
    resources = [
        {
            "LogicalResourceId": "ReportsBucket",
            "PhysicalResourceId": "reports-bucket-1",
            "ResourceType": "AWS::S3::Bucket",
        },
        {"LogicalResourceId": "Table", "PhysicalResourceId": "t", "ResourceType": "AWS::DynamoDB::Table"},
    ]
    summaries = [
        {**r, "LastUpdatedTimestamp": datetime(2026, 11, 20, tzinfo=UTC), "ResourceStatus": "CREATE_COMPLETE"}
        for r in resources
    ]
    cloudformation.add_response("list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": STACK})
    s3.add_response(
        "list_object_versions",
        {"Versions": [{"Key": "a.csv", "VersionId": "v1"}], "DeleteMarkers": [{"Key": "b.csv", "VersionId": "v2"}]},
        {"Bucket": "reports-bucket-1"},
    )
    objects = [{"Key": "a.csv", "VersionId": "v1"}, {"Key": "b.csv", "VersionId": "v2"}]
    s3.add_response("delete_objects", {}, {"Bucket": "reports-bucket-1", "Delete": {"Objects": objects, "Quiet": True}})
    cloudformation.add_response("delete_stack", {}, {"StackName": STACK})
    cloudformation.add_client_error(
        "describe_stacks", service_error_code="ValidationError", service_message=f"Stack with id {STACK} does not exist"
    )
    with cloudformation, s3:
        deploy.destroy_ephemeral()
    cloudformation.assert_no_pending_responses()
    s3.assert_no_pending_responses()


def test_dry_run_destroy_says_what_it_would_do(
    deploy: ModuleType, nothing_runs: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRY_RUN", "1")
    monkeypatch.setenv("STACK", STACK)
    deploy.destroy_ephemeral()
    out = capsys.readouterr().out
    assert f"would delete stack {STACK}" in out and "would empty every S3 bucket" in out


def test_is_ephemeral_needs_the_name_and_when_known_the_tag(deploy: ModuleType) -> None:
    assert deploy.is_ephemeral_stack(STACK)
    assert deploy.is_ephemeral_stack(STACK, {"stage": "ephemeral"})
    assert not deploy.is_ephemeral_stack(STACK, {"stage": "prod"})
    assert not deploy.is_ephemeral_stack(STACK, {})
    assert not deploy.is_ephemeral_stack("alchemiser-prod", {"stage": "ephemeral"})


# ------------------------------------------------------------------------------------ dev and prod tags
def test_beta_tags_count_up_per_version(deploy: ModuleType) -> None:
    existing = ["v2.0.0-beta.1", "v2.0.0-beta.3", "v2.1.0-beta.9", "v2.0.0-beta.x", "v2.0.0"]
    assert deploy.next_beta_tag("2.0.0", existing) == "v2.0.0-beta.4"
    assert deploy.next_beta_tag("3.0.0", existing) == "v3.0.0-beta.1"


def test_dry_run_deploy_dev_builds_tags_then_deploys(
    deploy: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRY_RUN", "1")
    monkeypatch.setattr(deploy, "git_tags", lambda pattern: ["v2.0.0-beta.2"])
    monkeypatch.setattr(deploy, "project_version", lambda: "2.0.0")
    monkeypatch.setattr(deploy, "has_origin", lambda: True)
    monkeypatch.setattr(deploy.subprocess, "run", lambda *a, **k: pytest.fail("ran a command in a dry run"))
    assert deploy.main(["deploy.py", "deploy-dev"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[dry-run]")]
    assert lines == [
        "[dry-run] sam build --template template.yaml --parallel",
        "[dry-run] git tag -a v2.0.0-beta.3 -m 'beta v2.0.0-beta.3 deployed to dev'",
        "[dry-run] git push origin v2.0.0-beta.3",
        "[dry-run] sam deploy --config-env dev --parameter-overrides 'Stage=dev PaperTrading=true "
        "AlertEmail=ops@example.com NotificationEmail=ops@example.com' --no-fail-on-empty-changeset",
    ]


def test_deploy_prod_refuses_an_existing_release_tag(deploy: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "git_tags", lambda pattern: [pattern])
    monkeypatch.setattr(deploy, "project_version", lambda: "2.0.0")
    with pytest.raises(deploy.DeployError, match="already exists"):
        deploy.deploy_prod()


def test_deploy_prod_needs_the_release_tag_typed_or_confirmed(
    deploy: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(deploy.DeployError, match=r"CONFIRM=v2\.0\.0"):
        deploy.confirm_release("v2.0.0")
    monkeypatch.setenv("CONFIRM", "v1.9.0")
    with pytest.raises(deploy.DeployError):
        deploy.confirm_release("v2.0.0")
    monkeypatch.setenv("CONFIRM", "v2.0.0")
    deploy.confirm_release("v2.0.0")


# ------------------------------------------------------------------------------------ logs
def test_logs_query_every_function_log_group(
    deploy: ModuleType, nothing_runs: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = sorted(f"/aws/lambda/alchemiser-prod-{name}" for name in FUNCTION_NAMES.values())
    assert deploy.function_log_groups("prod", "") == expected
    monkeypatch.setenv("DRY_RUN", "1")
    monkeypatch.setenv("CORRELATION_ID", "wf-2026-11-20-abc")
    monkeypatch.setenv("STACK", STACK)
    assert deploy.main(["deploy.py", "logs"]) == 0
    out = capsys.readouterr().out
    assert "/aws/lambda/alchemiser-ephemeral-abcdef1-execution" in out
    assert 'filter correlation_id = "wf-2026-11-20-abc"' in out


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"CORRELATION_ID": 'x" or 1=1 | fields @message'}, "CORRELATION_ID"),
        ({"CORRELATION_ID": "wf-1", "STACK": "alchemiser-prod"}, "only for ephemeral"),
        ({"CORRELATION_ID": "wf-1", "STAGE": "staging"}, "STAGE must be"),
        ({"CORRELATION_ID": "wf-1", "HOURS": "a lot"}, "HOURS"),
    ],
)
def test_logs_refuses_bad_input(
    deploy: ModuleType, nothing_runs: None, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(deploy.DeployError, match=message):
        deploy.logs()


# ------------------------------------------------------------------------------------ Makefile
def test_the_makefile_targets_run_the_documented_commands() -> None:
    def dry(target: str) -> str:
        return subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=True).stdout

    validate = dry("validate")
    assert "cfn-lint template.yaml" in validate
    assert "aws-sam-cli==1.150.1 sam validate --lint --template template.yaml" in validate
    assert "sam build --template template.yaml" in dry("build")
    for target in ("deploy-dev", "deploy-prod", "list-ephemeral", "destroy-ephemeral", "logs"):
        assert f"scripts/deploy.py {target}" in dry(target), target


def test_samconfig_has_dev_prod_and_ephemeral() -> None:
    import tomllib

    config = tomllib.loads((REPO / "samconfig.toml").read_text(encoding="utf-8"))
    for stage in ("dev", "prod", "ephemeral"):
        deploy_parameters = config[stage]["deploy"]["parameters"]
        assert deploy_parameters["region"] == "us-east-1"
        assert deploy_parameters["capabilities"] == "CAPABILITY_IAM"
        assert f'Stage="{stage}"' in deploy_parameters["parameter_overrides"]
        assert f'stage="{stage}"' in deploy_parameters["tags"]
        # paper or live is always said explicitly, never left to the template default
        assert "PaperTrading=" in deploy_parameters["parameter_overrides"]
    assert not config["default"]["build"]["parameters"].get("cached", False)  # the cache cannot see the package
    assert config["dev"]["deploy"]["parameters"]["stack_name"] == "alchemiser-dev"
    assert config["prod"]["deploy"]["parameters"]["stack_name"] == "alchemiser-prod"
    assert "stack_name" not in config["ephemeral"]["deploy"]["parameters"]  # set per branch by deploy.py
    assert 'PaperTrading="true"' in config["ephemeral"]["deploy"]["parameters"]["parameter_overrides"]
    assert 'PaperTrading="true"' in config["dev"]["deploy"]["parameters"]["parameter_overrides"]
