"""Deployment commands behind the Makefile targets (run from the repo root with the project's venv).

    deploy.py deploy-dev         tag v<version>-beta.<n>, sam build, sam deploy --config-env dev
    deploy.py deploy-prod        confirm, tag v<version>, sam build, sam deploy --config-env prod
    deploy.py deploy-ephemeral   sam build, deploy alchemiser-ephem-<branch>-<sha7> with branch/TTL tags
    deploy.py plan-ephemeral     print the stack name and tags deploy-ephemeral would use (no AWS, no build)
    deploy.py list-ephemeral     the ephemeral stacks, their branch, TTL and expiry
    deploy.py destroy-ephemeral  empty the buckets of STACK=alchemiser-ephem-... and delete it
    deploy.py logs               Logs Insights query for CORRELATION_ID over every function's log group

Settings come from the environment, as make passes them: DRY_RUN=1 prints every command or AWS call
that would change something (and the stack name, tags, query) without running it; TTL_HOURS, STACK,
CORRELATION_ID, STAGE, HOURS, CONFIRM (= the release tag, skips the prompt), BRANCH and SHA (override
git), AWS_REGION (default us-east-1), SAM (the sam command line; default `sam`).

Every deploy needs ALERT_EMAIL (every CloudWatch alarm goes there) and takes NOTIFICATION_EMAIL (the daily
trading emails; default ALERT_EMAIL): the template's AlertEmail and NotificationEmail have no default, so a
stack whose alerts reach nobody cannot be made. They are passed with the stage's own parameter overrides
from samconfig.toml (sam's --parameter-overrides replaces those, it does not add to them).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

EPHEMERAL_PREFIX = "alchemiser-ephem-"
EPHEMERAL_STACK = re.compile(r"^alchemiser-ephem-[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-[0-9a-f]{7}$")
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
STAGES = ("dev", "prod", "ephemeral")
BRANCH_SLUG_MAX = 40
DEFAULT_TTL_HOURS = 24
DEFAULT_REGION = "us-east-1"
# the template's AllowedPattern for AlertEmail and NotificationEmail
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


class DeployError(RuntimeError):
    """A refusal or a failed step; the message says which and why."""


# ---------------------------------------------------------------------------------------- helpers
def dry_run() -> bool:
    return os.environ.get("DRY_RUN", "").strip().lower() not in ("", "0", "false", "no")


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def say(message: str) -> None:
    print(message, flush=True)


def run(command: Sequence[str]) -> None:
    """Run a command that changes something; under DRY_RUN only print it."""
    say(("[dry-run] " if dry_run() else "+ ") + shlex.join(command))
    if not dry_run():
        subprocess.run(list(command), cwd=REPO, check=True)


def read(command: Sequence[str]) -> str:
    """Run a read-only command (git queries) and return its output; also under DRY_RUN."""
    return subprocess.run(list(command), cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def sam() -> list[str]:
    return shlex.split(os.environ.get("SAM", "sam"))


def project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as handle:
        version: str = tomllib.load(handle)["project"]["version"]
    return version


def git_tags(pattern: str) -> list[str]:
    output = read(["git", "tag", "--list", pattern])
    return [line for line in output.splitlines() if line]


def has_origin() -> bool:
    return "origin" in read(["git", "remote"]).split()


def create_tag(tag: str, message: str) -> None:
    run(["git", "tag", "-a", tag, "-m", message])
    if has_origin():
        run(["git", "push", "origin", tag])
    else:
        say(f"no git remote 'origin': tag {tag} stays local")


def alert_emails() -> dict[str, str]:
    """AlertEmail and NotificationEmail from ALERT_EMAIL / NOTIFICATION_EMAIL; refused when missing or not
    an email address, before anything is built, tagged or deployed."""
    alert = os.environ.get("ALERT_EMAIL", "").strip()
    if not EMAIL.fullmatch(alert):
        raise DeployError(
            f"set ALERT_EMAIL=<the operator's email address> (got {alert!r}): every alarm (dead-letter queues, "
            "errors, no workflow started, not completed by the close, failed orders) is sent to it, and a stack "
            "without it alerts nobody. NOTIFICATION_EMAIL (the daily trading emails) defaults to it."
        )
    notification = os.environ.get("NOTIFICATION_EMAIL", "").strip() or alert
    if not EMAIL.fullmatch(notification):
        raise DeployError(f"NOTIFICATION_EMAIL must be one email address, got {notification!r}")
    return {"AlertEmail": alert, "NotificationEmail": notification}


def parameter_overrides(config_env: str, extra: dict[str, str] | None = None) -> list[str]:
    """`--parameter-overrides` for sam deploy: the config env's own from samconfig.toml, then `extra`, then the
    alert emails (sam replaces samconfig's overrides with these, so all of them are passed)."""
    with (REPO / "samconfig.toml").open("rb") as handle:
        configured = tomllib.load(handle)[config_env]["deploy"]["parameters"].get("parameter_overrides", "")
    pairs = dict(item.split("=", 1) for item in shlex.split(configured))
    pairs.update(extra or {})
    pairs.update(alert_emails())
    return ["--parameter-overrides", " ".join(f"{key}={value}" for key, value in pairs.items())]


def sam_build() -> None:
    run([*sam(), "build", "--template", "template.yaml", "--parallel"])


def aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region())


# ---------------------------------------------------------------------------------------- tags
def next_beta_tag(version: str, existing: list[str]) -> str:
    """v<version>-beta.<n>, n one more than the highest existing beta of this version."""
    numbers = [
        int(match.group(1))
        for tag in existing
        if (match := re.fullmatch(rf"v{re.escape(version)}-beta\.(\d+)", tag)) is not None
    ]
    return f"v{version}-beta.{max(numbers, default=0) + 1}"


def deploy_dev() -> None:
    version = project_version()
    tag = next_beta_tag(version, git_tags(f"v{version}-beta.*"))
    overrides = parameter_overrides("dev")  # refuses without ALERT_EMAIL, before anything runs
    say(f"stack: alchemiser-dev  beta tag: {tag}")
    sam_build()  # first, so a build that fails burns no tag
    create_tag(tag, f"beta {tag} deployed to dev")
    run([*sam(), "deploy", "--config-env", "dev", *overrides, "--no-fail-on-empty-changeset"])


def deploy_prod() -> None:
    version = project_version()
    tag = f"v{version}"
    if git_tags(tag):
        raise DeployError(f"release tag {tag} already exists: bump the version in pyproject.toml first")
    overrides = parameter_overrides("prod")  # refuses without ALERT_EMAIL, before the prompt
    if read(["git", "status", "--porcelain", "--untracked-files=no"]):
        message = "the working tree has uncommitted changes: a release is built from a clean commit"
        if not dry_run():
            raise DeployError(message)
        say(f"[dry-run] would refuse: {message}")
    say(f"stack: alchemiser-prod  release tag: {tag}  (prod trades the account configured in samconfig.toml)")
    confirm_release(tag)
    sam_build()
    create_tag(tag, f"release {tag} deployed to prod")
    run([*sam(), "deploy", "--config-env", "prod", *overrides, "--no-fail-on-empty-changeset"])


def confirm_release(tag: str) -> None:
    if os.environ.get("CONFIRM") == tag:
        say(f"confirmed by CONFIRM={tag}")
        return
    if dry_run():
        say(f"[dry-run] would ask to type {tag} to confirm the production deploy")
        return
    if not sys.stdin.isatty():
        raise DeployError(f"production deploy needs confirmation: run with CONFIRM={tag}")
    answer = input(f"Deploy {tag} to PRODUCTION? Type {tag} to continue: ").strip()
    if answer != tag:
        raise DeployError("not confirmed; nothing was tagged or deployed")


# ---------------------------------------------------------------------------------------- ephemeral
def branch_slug(branch: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")
    return slug[:BRANCH_SLUG_MAX].rstrip("-") or "detached"


def tag_value(text: str) -> str:
    """CloudFormation tag values allow letters, digits, spaces and _ . : / = + - @."""
    return re.sub(r"[^\w .:/=+\-@]", "-", text)[:256]


def ephemeral_stack_name(branch: str, sha7: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{7}", sha7):
        raise DeployError(f"not a 7-character commit hash: {sha7!r}")
    return f"{EPHEMERAL_PREFIX}{branch_slug(branch)}-{sha7}"


def ephemeral_tags(branch: str, sha7: str, ttl_hours: int, now: datetime) -> dict[str, str]:
    return {
        "project": "alchemiser",
        "stage": "ephemeral",
        "ephemeral": "true",
        "branch": tag_value(branch),
        "commit": sha7,
        "ttl-hours": str(ttl_hours),
        "created-at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires-at": (now + timedelta(hours=ttl_hours)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def ttl_hours() -> int:
    raw = os.environ.get("TTL_HOURS") or str(DEFAULT_TTL_HOURS)
    if not raw.isdigit() or not 1 <= int(raw) <= 24 * 14:
        raise DeployError(f"TTL_HOURS must be a whole number of hours between 1 and 336, got {raw!r}")
    return int(raw)


def ephemeral_plan() -> tuple[str, str, dict[str, str]]:
    """(stack name, sha7, tags) of the ephemeral deploy of the current branch and commit (or BRANCH, SHA)."""
    branch = os.environ.get("BRANCH") or read(["git", "rev-parse", "--abbrev-ref", "HEAD"])
    sha7 = os.environ.get("SHA") or read(["git", "rev-parse", "--short=7", "HEAD"])
    return ephemeral_stack_name(branch, sha7), sha7, ephemeral_tags(branch, sha7, ttl_hours(), datetime.now(UTC))


def plan_ephemeral() -> None:
    """One line for `make -n deploy-ephemeral`: the stack name and tags the deploy would use."""
    stack, _, tags = ephemeral_plan()
    say(f"stack: {stack} tags: " + " ".join(f"{key}={value}" for key, value in tags.items()))


def deploy_ephemeral() -> None:
    stack, sha7, tags = ephemeral_plan()
    overrides = parameter_overrides(
        "ephemeral",
        {"Stage": "ephemeral", "PaperTrading": "true", "LogRetentionDays": "7", "InstanceSuffix": f"-{sha7}"},
    )
    say(f"stack: {stack}")
    say("tags: " + " ".join(f"{key}={value}" for key, value in tags.items()))
    sam_build()
    run(
        [
            *sam(),
            "deploy",
            "--config-env",
            "ephemeral",
            "--stack-name",
            stack,
            "--s3-prefix",
            stack,
            *overrides,
            "--tags",
            *[f"{key}={value}" for key, value in tags.items()],
            "--no-fail-on-empty-changeset",
        ]
    )


def is_ephemeral_stack(name: str, tags: dict[str, str] | None = None) -> bool:
    """An ephemeral stack by name, and (when its tags are known) by its stage tag too."""
    if not EPHEMERAL_STACK.fullmatch(name):
        return False
    return tags is None or tags.get("stage") == "ephemeral"


def list_ephemeral() -> None:
    if dry_run():
        say(
            f"[dry-run] would list CloudFormation stacks named {EPHEMERAL_PREFIX}* tagged stage=ephemeral in {region()}"
        )
        return
    now = datetime.now(UTC)
    found = 0
    for page in aws_client("cloudformation").get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
            if not is_ephemeral_stack(stack["StackName"], tags):
                continue
            found += 1
            expires = tags.get("expires-at", "")
            expired = bool(expires) and datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) < now
            say(
                f"{stack['StackName']}  branch={tags.get('branch', '?')}  ttl-hours={tags.get('ttl-hours', '?')}  "
                f"expires-at={expires or '?'}{'  EXPIRED' if expired else ''}  status={stack['StackStatus']}"
            )
    if not found:
        say("no ephemeral stacks")


def destroy_ephemeral() -> None:
    stack = os.environ.get("STACK", "").strip()
    if not stack:
        raise DeployError("set STACK=alchemiser-ephem-<branch>-<sha7>")
    if not is_ephemeral_stack(stack):
        raise DeployError(f"refusing to destroy {stack!r}: not an ephemeral stack ({EPHEMERAL_PREFIX}<branch>-<sha7>)")
    if dry_run():
        say(f"stack: {stack}")
        say(f"[dry-run] would check that {stack} is tagged stage=ephemeral")
        say(f"[dry-run] would empty every S3 bucket of {stack} (all object versions)")
        say(f"[dry-run] would delete stack {stack} in {region()} and wait for it to go")
        return
    cloudformation = aws_client("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
    if not is_ephemeral_stack(stack, tags):
        raise DeployError(f"refusing to destroy {stack!r}: it is not tagged stage=ephemeral")
    s3 = aws_client("s3")
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::S3::Bucket" and resource.get("PhysicalResourceId"):
                empty_bucket(s3, resource["PhysicalResourceId"])
    say(f"+ delete stack {stack}")
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack)
    say(f"deleted {stack}")


def empty_bucket(s3: Any, bucket: str) -> None:
    say(f"+ empty bucket {bucket}")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


# ---------------------------------------------------------------------------------------- logs
def function_log_groups(stage: str, suffix: str) -> list[str]:
    """Every function's log group as template.yaml names it, for one stage (and instance suffix)."""
    from the_alchemiser.local.template import load_template

    template = load_template(REPO / "template.yaml")
    groups: list[str] = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Logs::LogGroup":
            continue
        name = resource["Properties"]["LogGroupName"]
        text = name["Fn::Sub"] if isinstance(name, dict) else name
        groups.append(text.replace("${Stage}", stage).replace("${InstanceSuffix}", suffix))
    return sorted(groups)


def insights_query(correlation_id: str) -> str:
    return (
        "fields @timestamp, @log, level, event, correlation_id, causation_id, @message"
        f' | filter correlation_id = "{correlation_id}" or @message like "{correlation_id}"'
        " | sort @timestamp asc | limit 10000"
    )


def logs() -> None:
    correlation_id = os.environ.get("CORRELATION_ID", "").strip()
    if not CORRELATION_ID.fullmatch(correlation_id):
        raise DeployError("set CORRELATION_ID=<the workflow's correlation id> (letters, digits, . _ : -)")
    stack = os.environ.get("STACK", "").strip()
    if stack:
        if not is_ephemeral_stack(stack):
            raise DeployError(f"STACK is only for ephemeral stacks, got {stack!r}; use STAGE=dev|prod")
        stage, suffix = "ephemeral", "-" + stack.rsplit("-", 1)[1]
    else:
        stage, suffix = os.environ.get("STAGE", "dev"), ""
        if stage not in STAGES:
            raise DeployError(f"STAGE must be one of {STAGES}, got {stage!r}")
    raw_hours = os.environ.get("HOURS", "24")
    if not raw_hours.isdigit() or not 1 <= int(raw_hours) <= 24 * 30:
        raise DeployError(f"HOURS must be a whole number of hours between 1 and 720, got {raw_hours!r}")
    hours = int(raw_hours)
    groups = function_log_groups(stage, suffix)
    query = insights_query(correlation_id)
    say("log groups: " + " ".join(groups))
    say(f"query (last {hours} h): {query}")
    if dry_run():
        say(f"[dry-run] would run the query with CloudWatch Logs Insights in {region()}")
        return
    client = aws_client("logs")
    end = datetime.now(UTC)
    query_id = client.start_query(
        logGroupNames=groups,
        startTime=int((end - timedelta(hours=hours)).timestamp()),
        endTime=int(end.timestamp()),
        queryString=query,
    )["queryId"]
    while True:
        result = client.get_query_results(queryId=query_id)
        if result["status"] in ("Complete", "Failed", "Cancelled", "Timeout"):
            break
        time.sleep(1)
    if result["status"] != "Complete":
        raise DeployError(f"Logs Insights query ended {result['status']}")
    for row in result["results"]:
        fields = {f["field"]: f["value"] for f in row}
        say(
            f"{fields.get('@timestamp', '')}  {fields.get('@log', '').rsplit('/', 1)[-1]}  {fields.get('@message', '')}"
        )
    say(f"{len(result['results'])} lines")


COMMANDS = {
    "deploy-dev": deploy_dev,
    "deploy-prod": deploy_prod,
    "deploy-ephemeral": deploy_ephemeral,
    "plan-ephemeral": plan_ephemeral,
    "list-ephemeral": list_ephemeral,
    "destroy-ephemeral": destroy_ephemeral,
    "logs": logs,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[1]]()
    except DeployError as error:
        print(f"{argv[1]}: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"{argv[1]}: command failed ({error.returncode}): {shlex.join(error.cmd)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
