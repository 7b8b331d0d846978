"""A real `sluice serve` on loopback, checked against what the deployment artefacts expect of it.

Intake only (no servers needed; `loader.workers` 0): the probes answer; an EventBridge event POSTed with the API
key header is queued, without it refused; the message each rule's input transformer produces is accepted with
table and partition derived from the key although they arrive empty; an invalid event raises the DLQ gauge.

With moto and ClickHouse 26.9 (the `live` fixture: real loads through the push and SQS paths, a retried
connection failure, an E003 dead letter): /ready reports both dependencies; rows arrive once; the SQS message is
deleted after the commit; dead letters are forwarded to SQS; and every metric family the Grafana dashboard, the
Prometheus rules, the CloudWatch agent configuration and the CloudWatch alarms query is on /metrics with every
label name they use.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import DEPLOY, ROOT, metric_families_declared_in_source, recorded_names, sluice_metric_names
from livesupport import API_KEY, AWS_ENV, clean_environment, eventbridge_event, start_sluice, transform

BUCKET = "data-pipeline-curated-dev"


# ---------------------------------------------------------------------------------------------------------------
# Intake only


@pytest.fixture(scope="module")
def server(sluice, tmp_path_factory):
    """deploy/sluice.yaml as the file, intake only; nothing may leave the machine (closed loopback port)."""
    tmp = tmp_path_factory.mktemp("serve")
    env = clean_environment() | AWS_ENV | {
        "SLUICE_HTTP_HOST": "127.0.0.1",
        "SLUICE_HTTP_PORT": "0",
        "SLUICE_HTTP_DRAIN_SECONDS": "0",
        "SLUICE_JOURNAL_PATH": str(tmp / "journal" / "sluice.db"),
        "SLUICE_AUTH_API_KEYS": API_KEY,
        "SLUICE_INTAKE_BUCKET": BUCKET,
        "SLUICE_LOADER_WORKERS": "0",
        "SLUICE_CLICKHOUSE_URL": "http://127.0.0.1:9",
        "SLUICE_S3_ENDPOINT": "http://127.0.0.1:9",
    }
    server = start_sluice(sluice, env)
    yield server
    assert server.stop() == 0, "".join(server.log[-20:])


def test_probe_endpoints_answer(server):
    status, body = server.json("GET", "/health")
    assert status == 200 and body["status"] == "ok"
    # Intake only: ready needs a writable journal and open intake, not ClickHouse or S3.
    status, body = server.json("GET", "/ready")
    assert status == 200 and body["status"] == "ready", body
    assert body["checks"] == {"journal": "ok", "intake": "ok"}


def test_push_path_queues_eventbridge_events_with_the_connection_header(server):
    event = eventbridge_event(BUCKET, "market/prices/ds=2025-09-10/part-001.parquet", 1_048_576)
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
        event = eventbridge_event(BUCKET, key, 1_048_576)
        message = transform(sqs_target["InputTransformer"], event)
        assert message["table_name"] == "" and message["partition"] == ""
        assert message["correlation_id"] == event["id"] and message["file_size"] == 1_048_576
        status, body = server.api("POST", "/v1/messages", message)
        assert status == 202, (logical, body)
        assert body["status"] == "queued" and body["correlation_id"] == event["id"]
        status, load = server.api("GET", f"/v1/loads/{event['id']}")
        assert status == 200, load
        assert load["domain"] == domain and load["table_name"] == "daily_totals", load
        assert load["partition"] == "ds=2025-09-10/region=eu-west", load


def test_invalid_event_reaches_the_dead_letter_metric(server):
    """E001: a malformed event is refused with 400 and kept for review; LoadDLQMessages' series counts it."""
    before = gauge(scrape(server).text, "sluice_dlq_messages")
    status, body = server.api("POST", "/v1/events", {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {}}})
    assert status == 400 and body["code"] == "E001"
    assert gauge(scrape(server).text, "sluice_dlq_messages") == before + 1


# ---------------------------------------------------------------------------------------------------------------
# Real loads


def test_ready_checks_clickhouse_and_s3(live):
    assert live.ready["status"] == "ready"
    assert live.ready["checks"] == {"journal": "ok", "intake": "ok", "clickhouse": "ok", "s3": "ok"}, live.ready


def test_push_and_sqs_files_load_once(live):
    for path in ("push", "sqs"):
        load = live.loads[path]
        assert load["status"] == "loaded" and load["rows"] == 200, (path, load)
        assert load["table"] == f"{live.pipeline.databases['market']}.prices"
    assert live.loads["sqs"]["source"] != live.loads["push"]["source"], (live.loads["sqs"]["source"], live.loads["push"]["source"])
    counts = live.pipeline.clickhouse.run(f"SELECT ds, count() FROM {live.pipeline.databases['market']}.prices GROUP BY ds ORDER BY ds FORMAT TSV")
    assert counts.split() == ["2025-09-10", "200", "2025-09-11", "200", "2025-09-12", "200"], counts


def test_sqs_message_is_deleted_after_its_commit(live):
    assert live.message["table_name"] == "" and live.message["correlation_id"] == live.events["sqs"]["id"]
    assert live.loads["sqs_queue_after"]["counts"] == (0, 0)


def test_connection_failure_is_retried_then_loads(live):
    assert live.loads["retrying"]["status"] == "retrying", live.loads["retrying"]
    assert live.loads["retrying"]["last_error_code"] == "E004", live.loads["retrying"]
    final = live.loads["retried"]
    assert final["status"] == "loaded" and final["attempts"] >= 2, final


def test_missing_table_is_dead_lettered_with_E003_and_forwarded(live):
    for table in ("no_such_table", "replayed_a", "replayed_b"):
        assert live.loads[table]["status"] == "dead_lettered", live.loads[table]
        letter = live.dead_letters[table]
        assert letter["code"] == "E003" and letter["replayable"] is True, letter
        assert "data correction" in letter["recovery"].lower(), letter
        assert table in letter["message"], letter
    forwarded = json.dumps(live.forwarded)
    for table in ("no_such_table", "replayed_a", "replayed_b"):
        assert live.events[table]["id"] in forwarded, (table, live.forwarded)


def test_redelivered_event_is_a_duplicate(live):
    assert live.duplicate["http_status"] == 200 and live.duplicate["status"] == "duplicate", live.duplicate


# ---------------------------------------------------------------------------------------------------------------
# Metrics: what the artefacts query exists


class Scrape:
    def __init__(self, text: str):
        self.text = text
        self.types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        self.labels: dict[str, set[str]] = {}
        for line in text.splitlines():
            match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+$", line)
            if match and not line.startswith("#"):
                family = self.family(match.group(1)) or match.group(1)
                self.labels.setdefault(family, set()).update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(2) or ""))

    def family(self, name: str) -> str | None:
        """The family a series name belongs to (a histogram's _bucket, _sum and _count included), or None."""
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name.removesuffix(suffix)
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return None


def scrape(server) -> Scrape:
    status, _, raw = server.request("GET", "/metrics")
    assert status == 200
    return Scrape(raw.decode())


def gauge(text: str, name: str) -> float:
    return float(re.search(rf"^{name}(?:\{{\}})? (\S+)$", text, re.M).group(1))


RULES = [r for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"] for r in g["rules"]]


def queried_expressions() -> dict[str, list[str]]:
    """Every PromQL expression the artefacts run, by artefact; Grafana variables replaced by PromQL values."""
    out: dict[str, list[str]] = {}
    dashboard = json.loads((DEPLOY / "grafana" / "sluice.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    out["grafana"] = [e.replace("$__rate_interval", "5m").replace("$domain", ".*") for e in exprs]
    out["prometheus"] = [r["expr"] for r in RULES]
    return out


def grafana_label_values() -> list[tuple[str, str]]:
    """(metric, label) of every label_values() template variable."""
    dashboard = json.loads((DEPLOY / "grafana" / "sluice.json").read_text())
    return [tuple(part.strip() for part in v["query"]["query"].removeprefix("label_values(").removesuffix(")").split(","))
            for v in dashboard["templating"]["list"] if v["type"] == "query"]


def cloudwatch_agent_declarations() -> list[tuple[str, set[str]]]:
    """(metric, dimension names other than the scrape's Environment) of the agent's metric declarations."""
    agent = json.loads((DEPLOY / "aws" / "cloudwatch-agent.json").read_text())
    out = []
    for declaration in agent["logs"]["metrics_collected"]["prometheus"]["emf_processor"]["metric_declaration"]:
        dimensions = {d for group in declaration["dimensions"] for d in group} - scrape_labels()
        out += [(selector.strip("^$"), dimensions) for selector in declaration["metric_selectors"]]
    return out


def scrape_labels() -> set[str]:
    """Labels the CloudWatch agent's scrape job adds to every series (static labels), plus job and instance."""
    config = yaml.safe_load((DEPLOY / "aws" / "cloudwatch-agent-prometheus.yaml").read_text())
    static = {k for job in config["scrape_configs"] for s in job["static_configs"] for k in s.get("labels", {})}
    return static | {"job", "instance"}


def cloudwatch_alarm_metrics(cfn) -> list[tuple[str, set[str]]]:
    """(metric, dimension names other than Environment) of every Sluice metric the alarms read."""
    out = []
    for resource in cfn["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for query in resource["Properties"]["Metrics"]:
                metric = query.get("MetricStat", {}).get("Metric", {})
                if metric.get("Namespace") == "Sluice":
                    out.append((metric["MetricName"], {d["Name"] for d in metric.get("Dimensions", [])} - scrape_labels()))
    return out


def recorded_series_labels() -> dict[str, set[str]]:
    """The labels each recording rule's series keeps: those of its outermost aggregation's `by (...)`."""
    out = {}
    for rule in RULES:
        if "record" in rule:
            groups = re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"])
            out[rule["record"]] = {label.strip() for group in groups for label in group.split(",") if label.strip()} - {"le"}
    return out


def metric_problems(scraped: Scrape, cfn) -> list[str]:
    """Every queried name or label that /metrics does not have, as readable problems (empty: all present)."""
    problems = []
    recorded = recorded_series_labels()
    for artefact, exprs in queried_expressions().items():
        for expr in exprs:
            names = sluice_metric_names(expr)
            records = recorded_names(expr)
            if not names and not records:
                problems.append(f"{artefact}: no Sluice metric in {expr!r}")
            available = set()
            for record in records:
                if record not in recorded:
                    problems.append(f"{artefact} queries {record}, which no recording rule defines")
                available |= recorded.get(record, set())
            for name in names:
                family = scraped.family(name)
                if family is None:
                    problems.append(f"{artefact}: {name} is not on /metrics")
                    continue
                available |= scraped.labels.get(family, set()) | ({"le"} if name.endswith("_bucket") else set())
            for name, selector in re.findall(r"(sluice_[a-z0-9_]+)\{([^}]*)\}", expr):
                family = scraped.family(name)
                used = set(re.findall(r"([a-zA-Z_]+)\s*(?:=~|!=|!~|=)", selector))
                have = scraped.labels.get(family, set()) | ({"le"} if name.endswith("_bucket") else set())
                if family and not used <= have:
                    problems.append(f"{artefact}: {name} has labels {sorted(have)}, the selector uses {sorted(used - have)}")
            for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
                used = {label.strip() for label in group.split(",") if label.strip()}
                if not used <= available:
                    problems.append(f"{artefact}: {expr.strip()[:80]!r} groups by {sorted(used - available)}, which no series in it has")
    for rule in RULES:
        if "alert" in rule:
            available = set().union(*(recorded.get(r, set()) for r in recorded_names(rule["expr"])))
            for name in sluice_metric_names(rule["expr"]):
                available |= scraped.labels.get(scraped.family(name) or name, set())
            for label in re.findall(r"\$labels\.([a-zA-Z_]+)", json.dumps(rule.get("annotations", {}))):
                if label not in available:
                    problems.append(f"alert {rule['alert']} annotates with $labels.{label}, which its expression does not keep")
    for metric, label in grafana_label_values():
        if label not in scraped.labels.get(scraped.family(metric) or metric, set()):
            problems.append(f"grafana: label_values({metric}, {label}): no such label on /metrics")
    for source, pairs in (("cloudwatch-agent", cloudwatch_agent_declarations()), ("cloudwatch-alarms", cloudwatch_alarm_metrics(cfn))):
        for metric, dimensions in pairs:
            family = scraped.family(metric)
            if family is None or family != metric:
                problems.append(f"{source}: {metric} is not a metric family on /metrics")
            elif scraped.types[family] == "histogram":
                problems.append(f"{source}: {metric} is a histogram, which the CloudWatch agent drops")
            elif not dimensions <= scraped.labels.get(family, set()):
                problems.append(f"{source}: {metric} has labels {sorted(scraped.labels.get(family, set()))}, dimensions need {sorted(dimensions)}")
    return problems


def test_every_queried_metric_family_and_label_is_on_metrics(live, cfn):
    scraped = scrape(live.server)
    problems = metric_problems(scraped, cfn)
    assert not problems, "\n".join(problems)
    queried = {scraped.family(n) for exprs in queried_expressions().values() for e in exprs for n in sluice_metric_names(e)}
    queried |= {m for m, _ in cloudwatch_agent_declarations() + cloudwatch_alarm_metrics(cfn)}
    # The loader's families are among them, and exist now that files have loaded and failed.
    assert {"sluice_processing_latency_seconds", "sluice_intake_latency_seconds", "sluice_loads_total", "sluice_load_errors_total",
            "sluice_retries_total", "sluice_rows_loaded_total", "sluice_bytes_loaded_total", "sluice_queue_depth",
            "sluice_dlq_messages", "sluice_loads_in_flight", "sluice_queue_oldest_pending_age_seconds"} <= queried
    # What the scenario did is what the series say.
    failures = re.findall(r'^sluice_loads_total\{[^}]*outcome="failure"[^}]*\} ([0-9.]+)$', scraped.text, re.M)
    assert sum(float(v) for v in failures) == 3, f"three files dead-lettered (one per table): {failures}"
    assert re.search(r'^sluice_retries_total\{[^}]*code="E004"[^}]*\} [1-9]', scraped.text, re.M), "a retried connection failure"
    assert re.search(r'^sluice_rows_loaded_total\{[^}]*table="[a-z0-9_]+\.prices"[^}]*\} 600$', scraped.text, re.M), "600 rows loaded"


def test_metric_check_reports_missing_names_and_labels(live, cfn, monkeypatch):
    """The check above can fail: a renamed family, a dropped label and an unknown grouping are each reported."""
    scraped = scrape(live.server)
    broken = Scrape(scraped.text.replace("sluice_retries_total", "sluice_retry_total").replace('code="', 'error_code="'))
    problems = "\n".join(metric_problems(broken, cfn))
    assert "grafana: sluice_retries_total is not on /metrics" in problems
    assert "groups by ['code']" in problems
    assert "cloudwatch-agent: sluice_load_errors_total has labels" in problems
    monkeypatch.setattr(f"{__name__}.grafana_label_values", lambda: [("sluice_queue_depth", "region")])
    assert "label_values(sluice_queue_depth, region)" in "\n".join(metric_problems(scraped, cfn))


def test_every_declared_family_is_exported_under_its_declared_name(live):
    """SluiceMetrics.swift's names (sluice_<metric>_<unit>) are what /metrics shows, for every family it declares."""
    scraped = scrape(live.server)
    declared = metric_families_declared_in_source()
    assert len(declared) >= 15
    assert set(declared) <= set(scraped.types), sorted(set(declared) - set(scraped.types))
    for family, unit in declared.items():
        if unit == "total":
            assert scraped.types[family] == "counter", family
    source = (ROOT / "Sources" / "SluiceMetrics" / "SluiceMetrics.swift").read_text()
    declared_labels = set(re.findall(r'\("([a-z_]+)",', source))
    assert set().union(*scraped.labels.values()) - {"le"} <= declared_labels
