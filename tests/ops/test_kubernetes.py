"""deploy/kubernetes: schema validation, the ConfigMap's configuration, and what the Deployments promise."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from conftest import DEPLOY, ROOT, load_yaml_documents, run_sluice

K8S = DEPLOY / "kubernetes"
MANIFESTS = sorted(K8S.rglob("*.yaml"))
DEPLOYMENTS = {"push": K8S / "push" / "deployment.yaml", "sqs": K8S / "sqs" / "deployment.yaml"}


def container(mode: str) -> dict:
    deployment = load_yaml_documents(DEPLOYMENTS[mode])[0]
    return deployment["spec"]["template"]["spec"]["containers"][0]


def pod_spec(mode: str) -> dict:
    return load_yaml_documents(DEPLOYMENTS[mode])[0]["spec"]["template"]["spec"]


def test_manifests_validate_against_kubernetes_schemas():
    assert len(MANIFESTS) >= 8
    result = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", *map(str, MANIFESTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == sum(len(load_yaml_documents(m)) for m in MANIFESTS)


def test_schema_check_rejects_a_broken_manifest(tmp_path):
    broken = tmp_path / "deployment.yaml"
    broken.write_text(DEPLOYMENTS["push"].read_text().replace("terminationGracePeriodSeconds: 330", "terminationGracePeriodSeconds: soon"))
    result = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0


def test_configmap_is_deploy_sluice_yaml():
    configmap = load_yaml_documents(K8S / "configmap.yaml")[0]
    assert configmap["data"]["sluice.yaml"] == (DEPLOY / "sluice.yaml").read_text()
    mount = [m for m in container("push")["volumeMounts"] if m["name"] == "config"][0]
    assert mount["mountPath"] == "/etc/sluice"
    assert [v for v in pod_spec("push")["volumes"] if v["name"] == "config"][0]["configMap"]["name"] == configmap["metadata"]["name"]


def config_check(sluice: str, path, env: dict):
    result = run_sluice(sluice, "config", "check", str(path), env=env)
    problems = re.findall(r"^\s*[-*]?\s*([a-z_.\[\]0-9]+)\s*:\s*(.+)$", result.stderr, re.M)
    return result.returncode, problems, result


def environment(mode: str) -> dict:
    env = {}
    for doc in load_yaml_documents(K8S / "environment.yaml"):
        env.update(doc["data"])
    for item in container(mode).get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    env["SLUICE_AUTH_API_KEYS"] = "0123456789abcdef0123456789abcdef"
    env["SLUICE_CLICKHOUSE_PASSWORD"] = "not-a-real-password"
    return env


@pytest.mark.parametrize("mode", ["push", "sqs"])
def test_configmap_configuration_passes_config_check(sluice, tmp_path, mode):
    """`sluice config check` accepts the ConfigMap's file with each Deployment's environment, every key known."""
    config = tmp_path / "sluice.yaml"
    config.write_text(load_yaml_documents(K8S / "configmap.yaml")[0]["data"]["sluice.yaml"])
    env = environment(mode)
    code, problems, result = config_check(sluice, config, env)
    assert not problems, result.stderr
    assert code == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    # the environment reached the resolved configuration, secrets redacted
    assert resolved["intake"]["bucket"] == env["SLUICE_INTAKE_BUCKET"]
    assert resolved["clickhouse"]["url"] == env["SLUICE_CLICKHOUSE_URL"]
    assert resolved["clickhouse"]["password"] == "<redacted>"
    assert "0123456789abcdef" not in result.stdout
    assert resolved["journal"]["path"].startswith("/var/lib/sluice/")
    assert set(resolved["domains"]) == {"market", "customer", "product", "analytics"}


def test_deployments_probe_the_operations_endpoints_on_the_configured_port(sluice_config):
    port = sluice_config["http"]["port"]
    for mode in DEPLOYMENTS:
        c = container(mode)
        http = [p for p in c["ports"] if p["name"] == "http"][0]
        assert http["containerPort"] == port
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        assert c["startupProbe"]["httpGet"]["path"] == "/health"
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert c[probe]["httpGet"]["port"] == "http"
        annotations = load_yaml_documents(DEPLOYMENTS[mode])[0]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"


def test_grace_period_covers_processing_timeout_and_drain(sluice_config):
    needed = sluice_config["loader"]["processing_timeout_s"] + sluice_config["http"]["drain_seconds"]
    for mode in DEPLOYMENTS:
        assert pod_spec(mode)["terminationGracePeriodSeconds"] > needed


def test_resources_fit_the_loader_memory_budget(sluice_config):
    budget = sluice_config["loader"]["memory_budget_bytes"]
    units = {"Mi": 2**20, "Gi": 2**30}
    for mode in DEPLOYMENTS:
        resources = container(mode)["resources"]
        limit = int(resources["limits"]["memory"][:-2]) * units[resources["limits"]["memory"][-2:]]
        request = int(resources["requests"]["memory"][:-2]) * units[resources["requests"]["memory"][-2:]]
        # the decode budget plus at least 512 MiB for everything else, and never less than the seed's 1024 MB per file
        assert request >= budget + 512 * 2**20
        assert limit >= request
        assert budget >= 1024 * 10**6


def test_push_mode_keeps_the_journal_on_a_claim():
    journal = [m for m in container("push")["volumeMounts"] if m["name"] == "journal"][0]
    assert journal["mountPath"] == "/var/lib/sluice"
    volume = [v for v in pod_spec("push")["volumes"] if v["name"] == "journal"][0]
    claim = load_yaml_documents(K8S / "push" / "persistentvolumeclaim.yaml")[0]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    deployment = load_yaml_documents(DEPLOYMENTS["push"])[0]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"


def test_sqs_mode_polls_every_domain_queue_and_forwards_dead_letters():
    env = {e["name"]: e.get("value") for e in container("sqs")["env"]}
    urls = env["SLUICE_SQS_QUEUE_URLS"].split(",")
    assert [u.rsplit("/", 1)[1] for u in urls] == [f"dev-{d}-load-queue" for d in ["market", "customer", "product", "analytics"]]
    assert env["SLUICE_DLQ_SQS_QUEUE_URL"].endswith("/dev-sluice-dead-letters")
    assert load_yaml_documents(DEPLOYMENTS["sqs"])[0]["spec"]["replicas"] >= 2
    assert "SLUICE_SQS_QUEUE_URLS" not in {e["name"] for e in container("push")["env"]}


def test_secrets_come_from_secret_references_only():
    for mode in DEPLOYMENTS:
        env = {e["name"]: e for e in container(mode)["env"]}
        for name, key in [("SLUICE_AUTH_API_KEYS", "api-keys"), ("SLUICE_CLICKHOUSE_PASSWORD", "clickhouse-password")]:
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "sluice-secrets", "key": key}
    for manifest in MANIFESTS:
        for doc in load_yaml_documents(manifest):
            assert doc["kind"] != "Secret", f"{manifest} commits a Secret"


def test_irsa_service_account_and_disruption_budget():
    account = load_yaml_documents(K8S / "serviceaccount.yaml")[0]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/.+", account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
    for mode in DEPLOYMENTS:
        assert pod_spec(mode)["serviceAccountName"] == account["metadata"]["name"]
    pdb = load_yaml_documents(K8S / "poddisruptionbudget.yaml")[0]
    labels = load_yaml_documents(DEPLOYMENTS["sqs"])[0]["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())


def test_container_runs_the_image_entrypoint_as_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.M).group(1)
    for mode in DEPLOYMENTS:
        c = container(mode)
        assert c["command"] + c["args"] == yaml.safe_load(entry)
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod_spec(mode)["securityContext"]["runAsUser"] == 10001
        assert "USER 10001:10001" in dockerfile
