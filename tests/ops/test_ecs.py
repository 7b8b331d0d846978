"""deploy/ecs/task-definition.json: valid input of ECS RegisterTaskDefinition, and consistent with the stack."""

from __future__ import annotations

import json
import re
from string import Template

import pytest
from botocore.exceptions import ParamValidationError
from botocore.session import Session
from botocore.validate import ParamValidator

from conftest import DEPLOY, ROOT, load_yaml_documents

TASK = DEPLOY / "ecs" / "task-definition.json"
SAMPLE = {
    "ENVIRONMENT": "dev",
    "ACCOUNT_ID": "111122223333",
    "REGION": "us-east-1",
    "IMAGE": "111122223333.dkr.ecr.us-east-1.amazonaws.com/sluice:0.1.0",
    "SLUICE_ROLE_ARN": "arn:aws:iam::111122223333:role/dev-sluice-SluiceRole",
    "SLUICE_EXECUTION_ROLE_ARN": "arn:aws:iam::111122223333:role/dev-sluice-SluiceExecutionRole",
    "CURATED_BUCKET": "data-pipeline-curated-dev",
    "CLICKHOUSE_URL": "https://dw.internal:8443",
    "LOAD_QUEUE_URLS": "https://sqs.us-east-1.amazonaws.com/111122223333/dev-market-load-queue",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/dev-sluice-dead-letters",
    "CLICKHOUSE_PASSWORD_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:dev/sluice/clickhouse-AbCdEf",
    "API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:dev/sluice/api-key-AbCdEf",
}


def rendered() -> dict:
    text = TASK.read_text()
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    assert placeholders == set(SAMPLE), f"placeholders changed: {sorted(placeholders ^ set(SAMPLE))}"
    return json.loads(Template(text).substitute(SAMPLE))


def validate(task: dict) -> None:
    model = Session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(task, shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


def sluice_container(task: dict) -> dict:
    return [c for c in task["containerDefinitions"] if c["name"] == "sluice"][0]


def test_matches_the_register_task_definition_input_shape():
    validate(rendered())


def test_shape_check_rejects_a_wrong_field():
    task = rendered()
    task["containerDefinitions"][0]["healthCheck"]["interval"] = "fifteen"
    with pytest.raises(ParamValidationError):
        validate(task)
    task = rendered()
    task["containerDefinitions"][0]["healthcheck"] = task["containerDefinitions"][0].pop("healthCheck")
    with pytest.raises(ParamValidationError):
        validate(task)


def test_credentials_come_from_the_task_role():
    """ECS injects AWS_CONTAINER_CREDENTIALS_RELATIVE_URI for the task role; nothing may shadow it."""
    task = rendered()
    assert task["taskRoleArn"].startswith("arn:aws:iam::")
    names = {e["name"] for c in task["containerDefinitions"] for e in c.get("environment", []) + c.get("secrets", [])}
    forbidden = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"}
    assert not names & forbidden


def test_health_check_log_configuration_and_stop_timeout():
    c = sluice_container(rendered())
    command = c["healthCheck"]["command"]
    assert command[0] == "CMD" and command[1] == "curl" and command[-1] == "http://127.0.0.1:8080/health"
    assert [p["containerPort"] for p in c["portMappings"]] == [8080]
    assert c["logConfiguration"]["logDriver"] == "awslogs"
    assert c["logConfiguration"]["options"]["awslogs-group"] == "/aws/sluice/dev/service"
    # Fargate's maximum; loads running longer are parked and their SQS messages come back after visibility.
    assert c["stopTimeout"] == 120
    assert c["user"] == "10001:10001" and c["readonlyRootFilesystem"] is True
    assert {m["containerPath"] for m in c["mountPoints"]} == {"/var/lib/sluice", "/tmp"}


def test_secrets_and_agent_parameters_match_the_stack(cfn):
    task = rendered()
    resources = cfn["Resources"]
    c = sluice_container(task)
    secrets = {s["name"]: s["valueFrom"] for s in c["secrets"]}
    api_key = resources["ApiKeySecret"]["Properties"]
    clickhouse = resources["ClickHousePasswordSecret"]["Properties"]
    assert secrets["SLUICE_AUTH_API_KEYS"].endswith(":" + api_key["GenerateSecretString"]["GenerateStringKey"] + "::")
    assert secrets["SLUICE_CLICKHOUSE_PASSWORD"].endswith(":" + clickhouse["GenerateSecretString"]["GenerateStringKey"] + "::")
    agent = [x for x in task["containerDefinitions"] if x["name"] == "cloudwatch-agent"][0]
    parameters = {s["name"]: s["valueFrom"].split(":parameter", 1)[1] for s in agent["secrets"]}
    assert parameters["CW_CONFIG_CONTENT"] == resources["CloudWatchAgentConfig"]["Properties"]["Name"]["Fn::Sub"].replace("${Environment}", "dev")
    assert parameters["PROMETHEUS_CONFIG_CONTENT"] == resources["CloudWatchAgentPrometheus"]["Properties"]["Name"]["Fn::Sub"].replace("${Environment}", "dev")
    assert resources["SluiceLogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"].replace("${Environment}", "dev") == "/aws/sluice/dev/service"


def test_environment_names_sluice_keys_and_the_same_variables_as_kubernetes():
    c = sluice_container(rendered())
    names = {e["name"] for e in c["environment"]} | {s["name"] for s in c["secrets"]}
    k8s = load_yaml_documents(DEPLOY / "kubernetes" / "sqs" / "deployment.yaml")[0]["spec"]["template"]["spec"]["containers"][0]
    k8s_names = {e["name"] for e in k8s["env"]} | set(load_yaml_documents(DEPLOY / "kubernetes" / "environment.yaml")[0]["data"])
    assert names == k8s_names


def test_memory_fits_the_task():
    task = rendered()
    assert sum(c.get("memory", 0) for c in task["containerDefinitions"]) <= int(task["memory"])


def test_health_check_is_the_image_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    image_command = json.loads(re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", dockerfile, re.M).group(1))
    assert sluice_container(rendered())["healthCheck"]["command"] == ["CMD", *image_command]
