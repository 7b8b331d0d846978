"""deploy/grafana/sluice.json: the panels the seed's metrics need, valid PromQL in every query."""

from __future__ import annotations

import json
import subprocess

import yaml

from conftest import DEPLOY, tool

DASHBOARD = json.loads((DEPLOY / "grafana" / "sluice.json").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]


def promql(expr: str) -> str:
    """Grafana's variables replaced by values PromQL accepts."""
    return expr.replace("$__rate_interval", "5m").replace("$domain", ".*")


def test_panels_are_well_formed():
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in PANELS:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"} and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    assert {v["name"] for v in DASHBOARD["templating"]["list"]} == {"datasource", "domain"}


def test_the_seed_metrics_have_panels():
    queries = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in PANELS}

    def panel_with(*needles):
        return [title for title, q in queries.items() if all(n in q for n in needles)]

    assert panel_with("histogram_quantile(0.99", "sluice_processing_latency_seconds_bucket")
    assert panel_with('outcome="success"', 'outcome=~"success|failure"')
    assert panel_with('outcome="failure"', 'outcome=~"success|failure"')
    assert panel_with("sum by (domain) (sluice_queue_depth")
    assert panel_with("sluice_dlq_messages")
    assert panel_with("sum by (domain, table) (rate(sluice_rows_loaded_total")
    assert panel_with("sum by (domain, table) (rate(sluice_bytes_loaded_total")
    assert panel_with("sum by (domain) (sluice_loads_in_flight")


def test_every_query_is_valid_promql(tmp_path):
    exprs = [promql(t["expr"]) for p in PANELS for t in p["targets"]]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query:{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    path.write_text(yaml.safe_dump({"groups": [{"name": "bad", "rules": [{"record": "x:y:z", "expr": exprs[0] + " by"}]}]}))
    assert subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True).returncode != 0
