"""deploy/aws/load-pipeline.yaml: cfn-lint, drift from the binary's patterns, and the seed's contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import DEPLOY, ROOT, SEED_DOMAINS, run_sluice, tool

TEMPLATE = DEPLOY / "aws" / "load-pipeline.yaml"
PLACEHOLDER = "data-pipeline-curated-dev"


def resources(cfn, kind: str) -> dict:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == kind}


def substitute_bucket(value, bucket: str):
    if value == {"Ref": "CuratedBucket"}:
        return bucket
    if isinstance(value, dict):
        return {k: substitute_bucket(v, bucket) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_bucket(v, bucket) for v in value]
    return value


def rule_for(cfn, domain: str) -> dict:
    return cfn["Resources"][f"{domain.capitalize()}ObjectCreatedRule"]["Properties"]


def test_cfn_lint_passes():
    result = subprocess.run([tool("cfn-lint"), "--", str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path, cfn):
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("VisibilityTimeout: 1800", "VisibilityTimeout: 99999", 1))
    result = subprocess.run([tool("cfn-lint"), "--", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0


def test_committed_files_match_what_sluice_renders(sluice):
    """The drift test: scripts/render-deploy --check re-renders every rule pattern with the binary."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render-deploy"), "--sluice", sluice, "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_is_detected(sluice, tmp_path, cfn):
    """A pattern edited by hand (size floor 1000 instead of 1024) is a difference the check reports."""
    rule = rule_for(cfn, "market")
    assert rule["EventPattern"]["detail"]["object"]["size"] == [{"numeric": [">", 1024]}]
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    copy = tmp_path / "deploy" / "aws" / "load-pipeline.yaml"
    original = copy.read_text()
    assert original.count("- 1024") == len(SEED_DOMAINS)
    copy.write_text(original.replace("- 1024", "- 1000", 1))
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render-deploy"), "--sluice", sluice, "--check", "--root", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    removed = [line for line in result.stdout.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in result.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert [line.strip("-+ ") for line in removed] == ["1000"] and [line.strip("-+ ") for line in added] == ["1024"]


@pytest.mark.parametrize("domain", sorted(SEED_DOMAINS))
def test_rule_pattern_is_the_pattern_sluice_enforces(sluice, cfn, domain):
    rendered = json.loads(run_sluice(sluice, "pattern", "render", "--domain", domain, "--bucket", PLACEHOLDER,
                                     env={"SLUICE_INTAKE_BUCKET": PLACEHOLDER}, check=True).stdout)
    assert substitute_bucket(rule_for(cfn, domain)["EventPattern"], PLACEHOLDER) == rendered
    # and it is the seed's pattern: source, detail-type, bucket, prefix + suffix, size > 1024
    assert rendered["source"] == ["aws.s3"] and rendered["detail-type"] == ["Object Created"]
    assert rendered["detail"]["bucket"]["name"] == [PLACEHOLDER]


@pytest.mark.parametrize("domain", sorted(SEED_DOMAINS))
def test_rule_pattern_matches_as_the_seed_says(sluice, cfn, tmp_path, domain):
    pattern = tmp_path / "pattern.json"
    pattern.write_text(json.dumps(substitute_bucket(rule_for(cfn, domain)["EventPattern"], PLACEHOLDER)))
    other = "market" if domain != "market" else "customer"

    def event(key, size=2048, bucket=PLACEHOLDER):
        return {"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3", "account": "111122223333",
                "time": "2025-09-10T08:00:00Z", "region": "us-east-1", "resources": [],
                "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}}}

    cases = [
        (event(f"{domain}/t/ds=2025-09-10/part-001.parquet"), "true"),
        (event(f"{domain}/t/part.parquet", size=1025), "true"),
        (event(f"{domain}/t/part.parquet", size=1024), "false"),
        (event(f"{domain}/t/part.csv"), "false"),
        (event(f"{other}/t/part.parquet"), "false"),
        (event(f"x{domain}/t/part.parquet"), "false"),
        (event(f"{domain}/t/part.parquet", bucket="another-bucket"), "false"),
    ]
    for i, (e, expected) in enumerate(cases):
        path = tmp_path / f"event{i}.json"
        path.write_text(json.dumps(e))
        assert run_sluice(sluice, "pattern", "test", str(pattern), str(path), check=True).stdout.strip() == expected, e


def test_domain_queues_follow_the_seed(cfn):
    queues = resources(cfn, "AWS::SQS::Queue")
    for domain in SEED_DOMAINS:
        name = domain.capitalize()
        queue = queues[f"{name}LoadQueue"]["Properties"]
        assert queue["QueueName"] == {"Fn::Sub": "${Environment}-" + domain + "-load-queue"}
        assert queue["VisibilityTimeout"] == 1800
        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [f"{name}LoadDeadLetterQueue", "Arn"]}, "maxReceiveCount": 3}
    for queue in queues.values():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Ref": "PipelineKey"}


def test_input_transformer_produces_the_seed_message(cfn):
    for domain in SEED_DOMAINS:
        target = rule_for(cfn, domain)["Targets"][0]["Fn::If"][1]
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"]["bucket"] == "$.detail.bucket.name"
        assert transformer["InputPathsMap"]["key"] == "$.detail.object.key"
        assert transformer["InputPathsMap"]["size"] == "$.detail.object.size"
        assert transformer["InputPathsMap"]["id"] == "$.id"
        template = transformer["InputTemplate"]
        for field in ["bucket", "key", "domain", "table_name", "partition", "file_size", "correlation_id"]:
            assert f'"{field}":' in template
        assert f'"domain":"{domain}"' in template
        assert '"table_name":""' in template and '"partition":""' in template
        assert '"correlation_id":"<id>"' in template


def test_push_path_connection_destination_retry_and_dlq(cfn):
    r = cfn["Resources"]
    connection = r["SluiceConnection"]["Properties"]
    assert connection["AuthorizationType"] == "API_KEY"
    assert connection["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == "x-api-key"
    assert "resolve:secretsmanager:${ApiKeySecret}" in connection["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyValue"]["Fn::Sub"]
    destination = r["SluiceApiDestination"]["Properties"]
    assert destination["InvocationEndpoint"] == {"Fn::Sub": "${SluiceEndpointUrl}/v1/events"}
    assert destination["InvocationRateLimitPerSecond"] == {"Ref": "ApiDestinationRateLimit"}
    for domain in SEED_DOMAINS:
        push = rule_for(cfn, domain)["Targets"][1]["Fn::If"][1]
        assert push["Arn"] == {"Fn::GetAtt": ["SluiceApiDestination", "Arn"]}
        assert push["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["PushDeadLetterQueue", "Arn"]}
        assert push["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert "InputTransformer" not in push  # /v1/events takes the EventBridge event as it is


def statements(role: dict) -> list[dict]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_sluice_role_is_least_privilege(cfn):
    role = cfn["Resources"]["SluiceRole"]
    by_sid = {s["Sid"]: s for s in statements(role)}
    objects = by_sid["ReadDomainObjects"]
    assert objects["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    key = lambda value: json.dumps(value, sort_keys=True)  # noqa: E731
    assert sorted(objects["Resource"], key=key) == sorted(
        [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${CuratedBucket}/" + p + "*"} for p in SEED_DOMAINS.values()], key=key)
    queues = by_sid["ConsumeDomainQueues"]
    assert queues["Action"] == ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    assert sorted(queues["Resource"], key=key) == sorted([{"Fn::GetAtt": [f"{d.capitalize()}LoadQueue", "Arn"]} for d in SEED_DOMAINS], key=key)
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith("*") for a in actions), statement
        assert statement["Resource"] != "*", statement


def test_queue_policies_let_only_their_rule_send(cfn):
    for domain in SEED_DOMAINS:
        name = domain.capitalize()
        statement = cfn["Resources"][f"{name}LoadQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [f"{name}ObjectCreatedRule", "Arn"]}}}


SEED_ALARMS = {  # name: (priority, threshold, evaluation periods, datapoints to alarm, period)
    "LoadLatencyHigh": ("P1", 600, 3, 2, 300),
    "LoadErrorRateHigh": ("P0", 5, 3, 3, 300),
    "LoadQueueDepthHigh": ("P1", 100, 3, 2, 300),
    "LoadDLQMessages": ("P0", 0, 1, 1, 60),
}


def test_the_seed_alarms(cfn):
    alarms = resources(cfn, "AWS::CloudWatch::Alarm")
    seen = set()
    for logical, alarm in alarms.items():
        p = alarm["Properties"]
        name = p["AlarmName"]["Fn::Sub"].removeprefix("${Environment}-").split("-")[0]
        priority, threshold, periods, datapoints, period = SEED_ALARMS[name]
        seen.add(name)
        assert p["Threshold"] == threshold and p["ComparisonOperator"] == "GreaterThanThreshold", logical
        assert (p["EvaluationPeriods"], p["DatapointsToAlarm"]) == (periods, datapoints), logical
        assert {q["MetricStat"]["Period"] for q in p["Metrics"] if "MetricStat" in q} == {period}, logical
        assert p["AlarmActions"] == [{"Ref": f"{priority}AlarmTopic"}], logical
        assert p["AlarmDescription"].startswith(f"[{priority}]"), logical
        assert sum(1 for q in p["Metrics"] if q["ReturnData"]) == 1
    assert seen == set(SEED_ALARMS)
    # one queue-depth alarm per domain, on the domain's queue
    assert sum(1 for k in alarms if k.startswith("LoadQueueDepthHigh")) == len(SEED_DOMAINS)
