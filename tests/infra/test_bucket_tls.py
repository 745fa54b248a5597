"""Issue 14 finding 11 (part): every bucket refuses requests that are not over TLS (a bucket policy that
denies everything when aws:SecureTransport is false, on the bucket and on its objects)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.wiring import TEMPLATE_PATH, referenced_id
from the_alchemiser.local.template import load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def _policies_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policies = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::S3::BucketPolicy":
            policies[referenced_id(resource["Properties"]["Bucket"])] = resource["Properties"]["PolicyDocument"]
    return policies


def test_every_bucket_denies_requests_without_tls(template: dict[str, Any]) -> None:
    buckets = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"]
    assert set(buckets) >= {"PerformanceReportsBucket", "MarketDataBucket", "EventPayloadsBucket"}
    policies = _policies_of(template)
    for bucket in buckets:
        assert bucket in policies, f"{bucket} has no bucket policy"
        denies = [
            s
            for s in policies[bucket]["Statement"]
            if s["Effect"] == "Deny"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and s["Principal"] == "*"
            and s["Action"] == "s3:*"
        ]
        assert len(denies) == 1, bucket
        resources = denies[0]["Resource"]
        assert {"Fn::GetAtt": [bucket, "Arn"]} in resources, bucket
        assert {"Fn::Sub": f"${{{bucket}.Arn}}/*"} in resources, bucket
