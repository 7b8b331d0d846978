"""A real `sluice serve` on loopback, checked against what the deployment artefacts expect of it.

- every metric family that the Grafana dashboard, the Prometheus rules, the CloudWatch agent configuration and
  the CloudWatch alarms query is exported on /metrics (families that only appear after a real load are checked
  against SluiceMetrics.swift instead, and listed in LOAD_ONLY);
- the probes' endpoints answer;
- the push path: an EventBridge event POSTed with the API key header is queued, without it refused;
- the SQS path: the message each rule's input transformer produces is accepted, with table and partition
  derived from the key although they arrive empty.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from conftest import (DEPLOY, PENDING_KEYS, ROOT, metric_families_declared_in_source, recorded_names,
                      sluice_metric_names)

API_KEY = "ops-test-key-0123456789abcdef"
BUCKET = "data-pipeline-curated-dev"

# Families that exist only once a file has been loaded (or a load attempted): histograms and counters the
# loader creates on first use. Until a test here performs a real load (S3 emulator + ClickHouse) they are
# checked against SluiceMetrics.swift; with a real load this set becomes empty and every family is checked live.
LOAD_ONLY = {
    "sluice_processing_latency_seconds",
    "sluice_intake_latency_seconds",
    "sluice_loads_total",
    "sluice_load_errors_total",
    "sluice_retries_total",
    "sluice_rows_loaded_total",
    "sluice_bytes_loaded_total",
}


# ---------------------------------------------------------------------------------------------------------------
# The server


def serve_config(tmp_path) -> str:
    """deploy/sluice.yaml, without the sections the binary does not know yet (PENDING_KEYS)."""
    tree = yaml.safe_load((DEPLOY / "sluice.yaml").read_text())
    check = tmp_path / "check.yaml"
    check.write_text(yaml.safe_dump(tree))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    known = subprocess.run([os.environ["SLUICE_BIN"], "config", "check", str(check)], capture_output=True, text=True, env=env).returncode == 0
    if not known:
        for section in {k.split(".")[0] for k in PENDING_KEYS}:
            tree.pop(section, None)
    path = tmp_path / "sluice.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return str(path)


class Server:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict]:
        status, _, raw = self.request(method, path, body, headers)
        return status, json.loads(raw)


@pytest.fixture(scope="module")
def server(sluice, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AWS_"))}
    env.update({
        "SLUICE_HTTP_HOST": "127.0.0.1",
        "SLUICE_HTTP_PORT": "0",
        "SLUICE_JOURNAL_PATH": str(tmp / "journal" / "sluice.db"),
        "SLUICE_AUTH_API_KEYS": API_KEY,
        "SLUICE_INTAKE_BUCKET": BUCKET,
        "SLUICE_LOG_FORMAT": "json",
        # Nothing here may leave the machine: S3 and ClickHouse point at a closed loopback port, credentials are
        # static so that no metadata endpoint is asked.
        "SLUICE_CLICKHOUSE_URL": "http://127.0.0.1:9",
        "SLUICE_S3_ENDPOINT": "http://127.0.0.1:9",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDOPSTEST",
        "AWS_SECRET_ACCESS_KEY": "ops-test-secret",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    process = subprocess.Popen([sluice, "serve", "--config", serve_config(tmp)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    port, seen, deadline = None, [], time.monotonic() + 30
    while port is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(r'"msg":"listening".*"port":"?(\d+)', line)
        if match:
            port = int(match.group(1))
    if port is None:
        process.kill()
        pytest.fail("sluice serve did not report its port:\n" + "".join(seen))
    yield Server(process, port)
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def eventbridge_event(key: str, size: int = 1_048_576, bucket: str = BUCKET) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2025-09-10T08:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": uuid.uuid4().hex, "sequencer": "0062E99A88DC407460"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "111122223333",
            "reason": "PutObject",
        },
    }


# ---------------------------------------------------------------------------------------------------------------
# What EventBridge would send


def json_path(event: dict, path: str):
    value = event
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def transform(transformer: dict, event: dict) -> dict:
    """EventBridge's input transformer: each <variable> of the template replaced by its JSON path's value.

    Inside quotes a string is inserted escaped, unquoted a value is inserted as JSON.
    """
    template = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value = json_path(event, path)
        quoted = f'"<{name}>"'
        if quoted in template:
            template = template.replace(quoted, json.dumps(value if isinstance(value, str) else json.dumps(value)))
        template = template.replace(f"<{name}>", json.dumps(value))
    assert not re.search(r"<[a-z.-]+>", template), template
    return json.loads(template)


# ---------------------------------------------------------------------------------------------------------------
# Tests


def test_probe_endpoints_answer(server):
    status, body = server.json("GET", "/health")
    assert status == 200 and body["status"] == "ok"
    status, body = server.json("GET", "/ready")
    # Ready needs a writable journal today; with the loader it also needs ClickHouse and S3, which this test
    # points at a closed port, so 503 is a correct answer too: the probe must get JSON with a status.
    assert status in (200, 503) and body["status"] in ("ready", "not_ready")
    assert body["checks"]["journal"] == "ok"


def test_push_path_queues_eventbridge_events_with_the_connection_header(server):
    event = eventbridge_event("market/prices/ds=2025-09-10/part-001.parquet")
    status, body = server.json("POST", "/v1/events", event)
    assert status == 401
    status, body = server.json("POST", "/v1/events", event, {"x-api-key": API_KEY})
    assert status == 202, body
    assert body["status"] == "queued"


def test_rule_transformer_output_is_a_message_sluice_accepts(server, cfn):
    rules = {k: v for k, v in cfn["Resources"].items() if v["Type"] == "AWS::Events::Rule"}
    assert len(rules) == 4
    for logical, rule in rules.items():
        sqs_target = rule["Properties"]["Targets"][0]["Fn::If"][1]
        domain = json.loads(sqs_target["InputTransformer"]["InputTemplate"].replace("<size>", "0").replace("<", "").replace(">", ""))["domain"]
        key = f"{domain}/daily_totals/ds=2025-09-10/region=eu%2Dwest/part-00{len(domain)}.parquet"
        event = eventbridge_event(key)
        message = transform(sqs_target["InputTransformer"], event)
        assert message["table_name"] == "" and message["partition"] == ""
        assert message["correlation_id"] == event["id"] and message["file_size"] == 1_048_576
        status, body = server.json("POST", "/v1/messages", message, {"x-api-key": API_KEY})
        assert status == 202, (logical, body)
        assert body["status"] == "queued" and body["correlation_id"] == event["id"]
        status, load = server.json("GET", f"/v1/loads/{event['id']}", headers={"x-api-key": API_KEY})
        assert status == 200, load
        text = json.dumps(load)
        assert "daily_totals" in text and domain in text, text
        assert "ds" in text and "2025-09-10" in text, text


def scrape(server) -> tuple[dict[str, str], dict[str, set[str]], str]:
    status, headers, raw = server.request("GET", "/metrics")
    assert status == 200
    text = raw.decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    labels: dict[str, set[str]] = {}
    for name, label_text in re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", text, re.M):
        labels.setdefault(name, set()).update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', label_text))
    return types, labels, text


def queried_expressions() -> dict[str, list[str]]:
    """Every PromQL expression the artefacts run, by artefact; Grafana variables replaced by PromQL values."""
    out: dict[str, list[str]] = {}
    dashboard = json.loads((DEPLOY / "grafana" / "sluice.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"].replace("label_values(", "").split(",")[0] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    out["grafana"] = [e.replace("$__rate_interval", "5m").replace("$domain", ".*") for e in exprs]
    rules = [r for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    out["prometheus"] = [r["expr"] for r in rules]
    agent = json.loads((DEPLOY / "aws" / "cloudwatch-agent.json").read_text())
    selectors = [s for d in agent["logs"]["metrics_collected"]["prometheus"]["emf_processor"]["metric_declaration"] for s in d["metric_selectors"]]
    out["cloudwatch-agent"] = [s.strip("^$") for s in selectors]
    return out


def cloudwatch_alarm_metrics(cfn) -> set[str]:
    names = set()
    for resource in cfn["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for query in resource["Properties"]["Metrics"]:
                metric = query.get("MetricStat", {}).get("Metric", {})
                if metric.get("Namespace") == "Sluice":
                    names.add(metric["MetricName"])
    return names


def family_of(name: str, types: dict[str, str]) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
        if name.endswith(suffix) and base in LOAD_ONLY and base.endswith("_seconds"):
            return base
    return name


def classify(wanted: dict[str, set[str]], types: dict[str, str], declared: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Splits queried names into families live on /metrics and load-only families; anything else is a problem."""
    live, load_only, problems = [], [], []
    for name, artefacts in sorted(wanted.items()):
        family = family_of(name, types)
        if family in types:
            if name != family and types[family] != "histogram":
                problems.append(f"{name}: {family} is a {types[family]}, not a histogram")
            live.append(family)
        elif family not in LOAD_ONLY:
            problems.append(f"{name} (queried by {sorted(artefacts)}) is not on /metrics and not a load-only family")
        elif family not in declared:
            problems.append(f"{family} is not declared in SluiceMetrics.swift")
        else:
            load_only.append(family)
    return live, load_only, problems


def test_classify_reports_unknown_and_mistyped_names():
    types = {"sluice_queue_depth": "gauge", "sluice_http_request_duration_seconds": "histogram"}
    declared = {"sluice_loads_total": "total"}
    wanted = {"sluice_queue_depth": {"a"}, "sluice_queue_depth_bucket": {"a"}, "sluice_loads_totl": {"b"},
              "sluice_http_request_duration_seconds_bucket": {"c"}, "sluice_rows_loaded_total": {"d"}, "sluice_loads_total": {"e"}}
    live, load_only, problems = classify(wanted, types, declared)
    assert sorted(problems) == sorted([
        "sluice_loads_totl (queried by ['b']) is not on /metrics and not a load-only family",
        "sluice_queue_depth_bucket (queried by ['a']) is not on /metrics and not a load-only family",
        "sluice_rows_loaded_total is not declared in SluiceMetrics.swift",
    ])
    assert load_only == ["sluice_loads_total"]
    assert set(live) == {"sluice_queue_depth", "sluice_http_request_duration_seconds"}


def test_every_queried_metric_family_is_exported(server, cfn):
    server.request("GET", "/health")
    types, labels, _ = scrape(server)
    expressions = queried_expressions()
    recorded = {r["record"] for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"] for r in g["rules"] if "record" in r}
    wanted: dict[str, set[str]] = {}
    for artefact, exprs in expressions.items():
        assert exprs, artefact
        for expr in exprs:
            names = sluice_metric_names(expr)
            for rec in recorded_names(expr):
                assert rec in recorded, f"{artefact} queries {rec}, which no recording rule defines"
            assert names or recorded_names(expr), f"{artefact}: no Sluice metric in {expr!r}"
            for name in names:
                wanted.setdefault(name, set()).add(artefact)
    for name in cloudwatch_alarm_metrics(cfn):
        wanted.setdefault(name, set()).add("cloudwatch-alarms")

    live, load_only, problems = classify(wanted, types, metric_families_declared_in_source())
    assert not problems, problems
    print(f"\nlive on /metrics: {sorted(set(live))}\nload-only (checked against SluiceMetrics.swift): {sorted(set(load_only))}")
    assert {"sluice_queue_depth", "sluice_dlq_messages", "sluice_loads_in_flight", "sluice_queue_oldest_pending_age_seconds",
            "sluice_events_received_total"} <= set(live)


def test_label_names_used_in_selectors_exist(server):
    _, labels, _ = scrape(server)
    source = (ROOT / "Sources" / "SluiceMetrics" / "SluiceMetrics.swift").read_text()
    declared_labels = set(re.findall(r'\("([a-z_]+)",', source))
    for artefact, exprs in queried_expressions().items():
        for expr in exprs:
            for name, selector in re.findall(r"(sluice_[a-z0-9_]+)\{([^}]*)\}", expr):
                used = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)", selector))
                if name in labels:
                    assert used <= labels[name] | {"le"}, f"{artefact}: {name} has labels {sorted(labels[name])}, query uses {sorted(used)}"
                else:
                    assert used <= declared_labels | {"le"}, f"{artefact}: {name} uses labels {sorted(used - declared_labels)}"


def test_load_only_families_are_declared():
    """LOAD_ONLY families carry the names SluiceMetrics.swift gives them. Switch to a live check after a real load."""
    declared = metric_families_declared_in_source()
    assert LOAD_ONLY <= set(declared), sorted(LOAD_ONLY - set(declared))


def test_source_names_match_live_names(server):
    """The name rule used for SluiceMetrics.swift (sluice_<metric>_<unit>) agrees with /metrics for live families."""
    types, _, _ = scrape(server)
    declared = metric_families_declared_in_source()
    primed = {"sluice_events_received_total", "sluice_queue_depth", "sluice_queue_oldest_pending_age_seconds",
              "sluice_journal_write_errors_total", "sluice_dlq_messages", "sluice_loads_in_flight"}
    assert primed <= set(declared)
    assert primed <= set(types)


def test_invalid_event_reaches_the_dead_letter_metric(server):
    """E001: a malformed event is refused with 400 and kept for review; LoadDLQMessages' series counts it."""
    before = dead_letters(server)
    status, body = server.json("POST", "/v1/events", {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {}}},
                               {"x-api-key": API_KEY})
    assert status == 400 and body["code"] == "E001"
    assert dead_letters(server) == before + 1


def dead_letters(server) -> float:
    _, _, text = scrape(server)
    return float(re.search(r"^sluice_dlq_messages(?:\{\})? (\S+)$", text, re.M).group(1))
