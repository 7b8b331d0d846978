"""The harness scripts answer --help and refuse options they do not know, instead of running everything."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

BENCH = ROOT / "scripts" / "bench_lib" / "bench.py"
CHAOS = ROOT / "scripts" / "chaos_lib" / "chaos.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)


def test_bench_help_prints_its_usage_and_runs_nothing():
    result = run(str(BENCH), "--help")
    assert result.returncode == 0
    assert "bench.py [intake|decode|load|e2e|memory|micro|all]" in result.stdout
    assert "Sluice benchmarks (" not in result.stdout


def test_bench_refuses_an_unknown_option():
    result = run(str(BENCH), "intake", "--qiuck")
    assert result.returncode == 2
    assert "unknown option --qiuck" in result.stderr


def test_chaos_lists_its_scenarios():
    result = run(str(CHAOS), "--list")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert "sqs-replicas" in names and "ack-durability" in names and len(names) == len(set(names))
