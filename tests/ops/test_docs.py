"""docs/operations.md: a runbook for every alert and every error code, and the commands it promises."""

from __future__ import annotations

import re

from conftest import ROOT, SEED_DOMAINS

DOC = (ROOT / "docs" / "operations.md").read_text()

# The seed's error table: code -> recovery.
RECOVERY = {
    "E001": "manual review",
    "E002": "file reprocessing",
    "E003": "data correction",
    "E004": "auto-retry",
    "E005": "service recovery",
    "E006": "resource scaling",
}


def section(heading: str) -> str:
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ )", DOC + "\n# end", re.M | re.S)
    assert match, f"no section {heading}"
    return match.group(1)


def test_a_runbook_for_each_alert():
    for alert in ["LoadLatencyHigh", "LoadErrorRateHigh", "LoadQueueDepthHigh", "LoadDLQMessages"]:
        text = section(alert)
        assert re.search(r"^1\. ", text, re.M), f"{alert} runbook has no steps"


def test_a_runbook_for_each_error_code_with_the_seed_recovery():
    for code, recovery in RECOVERY.items():
        text = section(code)
        assert recovery in text.lower(), f"{code} does not name its recovery ({recovery})"
        assert "replay" in text.lower() or "delete" in text.lower()


def test_dlq_commands_for_every_endpoint():
    blocks = "\n".join(part.split("```")[0] for part in DOC.split("```sh")[1:])
    commands = [c for c in blocks.replace("\\\n", " ").splitlines() if c.lstrip().startswith("curl")]
    promised = [
        ("GET", r"\$SLUICE/v1/dlq\?"),
        ("GET", r"\$SLUICE/v1/dlq/\$ID\""),
        ("POST", r"\$SLUICE/v1/dlq/\$ID/replay"),
        ("POST", r"\$SLUICE/v1/dlq/replay"),
        ("DELETE", r"\$SLUICE/v1/dlq/\$ID\""),
        ("GET", r"\$SLUICE/v1/loads/\$CORRELATION_ID"),
        ("POST", r"\$SLUICE/v1/loads\?wait=true"),
    ]
    for method, pattern in promised:
        matching = [c for c in commands if re.search(pattern, c) and (f"-X {method}" in c) == (method != "GET")]
        assert matching, (method, pattern)


def test_modes_scaling_and_transformer_limits_are_documented():
    for heading in ["Push mode or SQS mode", "Scaling out", "The SQS message and what EventBridge cannot do"]:
        assert section(heading).strip()
    assert "1800" in section("Scaling out")
    assert "derives `table_name` and `partition` from the key" in DOC
    for domain in SEED_DOMAINS:
        assert f"| {domain} |" in section("Scaling out")


def test_cloudwatch_alarm_runbook_links_resolve(cfn):
    headings = {line.lstrip("#").strip().lower() for line in DOC.splitlines() if line.startswith("#")}
    for resource in cfn["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            anchor = resource["Properties"]["AlarmDescription"].split("docs/operations.md#")[1]
            assert anchor in headings
