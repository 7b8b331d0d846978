"""deploy/prometheus/alerts.yml: promtool's syntax check and unit tests, and the seed's alarm table."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from conftest import DEPLOY, ROOT, tool

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = Path(__file__).parent / "alerts_test.yml"

# The seed's CloudWatch alarm table: name -> (priority, threshold as it appears in the expression, M of N windows).
SEED_ALARMS = {
    "LoadLatencyHigh": ("P1", "> bool 600", 2),
    "LoadErrorRateHigh": ("P0", "> bool 0.05", 3),
    "LoadQueueDepthHigh": ("P1", "> bool 100", 2),
    "LoadDLQMessages": ("P0", "> 0", 1),
}


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_promtool_check_rules():
    result = subprocess.run([tool("promtool"), "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass():
    result = subprocess.run([tool("promtool"), "test", "rules", ALERT_TESTS.name], capture_output=True, text=True, cwd=ALERT_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_can_fail(tmp_path):
    """The unit tests notice a wrong threshold: the same tests against rules with LoadQueueDepthHigh at 1000 fail."""
    (tmp_path / "deploy" / "prometheus").mkdir(parents=True)
    (tmp_path / "tests" / "ops").mkdir(parents=True)
    (tmp_path / "deploy" / "prometheus" / "alerts.yml").write_text(ALERTS.read_text().replace("> bool 100)", "> bool 1000)"))
    (tmp_path / "tests" / "ops" / "alerts_test.yml").write_text(ALERT_TESTS.read_text())
    result = subprocess.run([tool("promtool"), "test", "rules", "alerts_test.yml"], capture_output=True, text=True, cwd=tmp_path / "tests" / "ops")
    assert result.returncode != 0


def test_seed_alarms_with_priorities_and_windows():
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert set(alerts) == set(SEED_ALARMS)
    for name, (priority, threshold, m_of_n) in SEED_ALARMS.items():
        rule = alerts[name]
        assert rule["labels"]["priority"] == priority, name
        assert threshold in rule["expr"], name
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        if m_of_n > 1:
            # three five-minute windows: now, 5 and 10 minutes ago, at least M breaching
            assert "offset 5m" in rule["expr"] and "offset 10m" in rule["expr"], name
            assert rule["expr"].strip().endswith(f">= {m_of_n}"), name


def test_success_and_error_rate_recordings():
    recorded = {r["record"]: r["expr"] for r in rules() if "record" in r}
    for name in ["domain:sluice_success_rate:ratio_rate5m", "sluice:success_rate:ratio_rate5m",
                 "domain:sluice_error_rate:ratio_rate5m", "sluice:error_rate:ratio_rate5m"]:
        assert name in recorded
    assert 'outcome="success"' in recorded["sluice:success_rate:ratio_rate5m"]
    assert 'outcome="failure"' in recorded["sluice:error_rate:ratio_rate5m"]


def test_every_alert_is_unit_tested_firing_and_not_firing():
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    firing, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing == set(SEED_ALARMS)
    assert quiet == set(SEED_ALARMS)


def test_runbook_anchors_exist():
    text = (ROOT / "docs" / "operations.md").read_text()
    headings = {line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("#")}
    for name in SEED_ALARMS:
        assert name.lower() in headings, f"docs/operations.md has no heading {name}"
