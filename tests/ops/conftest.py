"""Shared fixtures of the deployment tests: paths, the sluice binary, and Sluice's own configuration keys."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# The seed's domains.
SEED_DOMAINS = {"market": "market/", "customer": "customer/", "product": "product/", "analytics": "analytics/"}


def sluice_bin() -> str | None:
    path = os.environ.get("SLUICE_BIN")
    if path and Path(path).is_file() and os.access(path, os.X_OK):
        return path
    return None


@pytest.fixture(scope="session")
def sluice() -> str:
    path = sluice_bin()
    if path is None:
        if os.environ.get("SLUICE_REQUIRE_BIN") == "1" or os.environ.get("CI"):
            pytest.fail("SLUICE_BIN must name a built sluice binary")
        pytest.skip("SLUICE_BIN is not set to a built sluice binary")
    return path


def run_sluice(binary: str, *args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    base.update(env or {})
    result = subprocess.run([binary, *args], capture_output=True, text=True, env=base, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"sluice {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def load_yaml_documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML, short-form intrinsics included (the rendered template uses the long form)."""


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="session")
def cfn() -> dict:
    return yaml.load((DEPLOY / "aws" / "load-pipeline.yaml").read_text(), Loader=CfnLoader)


@pytest.fixture(scope="session")
def sluice_config() -> dict:
    return yaml.safe_load((DEPLOY / "sluice.yaml").read_text())


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (tests/ops/run installs it)")
    return path


def metric_families_declared_in_source() -> dict[str, str]:
    """Every metric family SluiceMetrics.swift declares: full name -> unit, e.g. sluice_loads_total -> total."""
    text = (ROOT / "Sources" / "SluiceMetrics" / "SluiceMetrics.swift").read_text()
    families = {}
    for metric, unit in re.findall(r'name\("([a-z0-9_]+)",\s*"([a-z_]*)"', text):
        families["sluice_" + metric + ("_" + unit if unit else "")] = unit
    return families


def sluice_metric_names(expr: str) -> set[str]:
    """The sluice_* series names a PromQL expression selects (recorded series such as a:sluice_b:c excluded)."""
    return set(re.findall(r"(?<![A-Za-z0-9_:])sluice_[a-z0-9_]+(?![A-Za-z0-9_:])", expr))


def recorded_names(expr: str) -> set[str]:
    return set(re.findall(r"(?<![A-Za-z0-9_])[a-z_]*:[a-z0-9_]+:[a-z0-9_]+", expr))


def json_file(path: Path):
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def live(sluice, cfn, tmp_path_factory):
    """The live scenario (livesupport.run_scenario) on moto and ClickHouse 26.9, run once per session.

    Skipped with a reason when the servers are not running, failed instead when SLUICE_REQUIRE_SERVERS=1.
    Afterwards Sluice must exit 0 on SIGTERM.
    """
    from livesupport import Pipeline, run_scenario, servers_or_skip

    s3, clickhouse = servers_or_skip()
    pipeline = Pipeline(sluice, s3, clickhouse, tmp_path_factory.mktemp("live"))
    status = None
    try:
        yield run_scenario(pipeline, cfn)
        status = pipeline.server.stop()
    finally:
        log = "".join(pipeline.server.log[-40:]) if pipeline.server else ""
        pipeline.close()
    assert status == 0, f"sluice serve exited {status} after SIGTERM:\n{log}"
