#!/usr/bin/env python3
"""Runs Sluice's fault, abuse and security scenarios (see `scripts/chaos --help` and docs/reliability.md)."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ROOT, Context, Fail, Sentinels, Servers, Skip  # noqa: E402
import scenarios  # noqa: E402


class Suite:
    def __init__(self, args):
        self.quick = args.quick
        self.binary = find_binary()
        self.work = args.work or tempfile.mkdtemp(prefix="sluice-chaos.")
        os.makedirs(self.work, exist_ok=True)
        self.sentinels = Sentinels()
        self.servers = Servers(self.work, self.sentinels)
        self.cache = {}
        self.keep = args.keep


def find_binary():
    """SLUICE_BIN, else .build/debug/sluice (built with `swift build --product sluice` when missing)."""
    if os.environ.get("SLUICE_BIN"):
        path = os.path.abspath(os.environ["SLUICE_BIN"])
        if not os.access(path, os.X_OK):
            raise SystemExit("chaos: SLUICE_BIN=%s is not executable" % path)
        return path
    path = os.path.join(ROOT, ".build", "debug", "sluice")
    sys.stderr.write("chaos: building sluice (swift build --product sluice)\n")
    result = subprocess.run(["swift", "build", "--product", "sluice"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit("chaos: the build failed")
    return path


def build_kind(binary):
    """`release` or `debug` when the binary's path says so (SwiftPM's build folders), else `unlabelled`."""
    parts = binary.split(os.sep)
    return "release" if "release" in parts else "debug" if "debug" in parts else "unlabelled"


def run_one(suite, scenario):
    ctx = Context(suite, scenario.name)
    started = time.monotonic()
    status, figures = "PASS", ""
    try:
        figures = scenario.run(ctx) or ""
    except Skip as skip:
        status, figures = "SKIP", str(skip)
    except Fail as failure:
        status, figures = "FAIL", str(failure)
    except Exception as error:  # noqa: BLE001 - an unexpected error fails the scenario, with its trace in the log
        status, figures = "FAIL", "harness error: %s: %s" % (type(error).__name__, error)
        with open(os.path.join(ctx.dir, "traceback.txt"), "w") as f:
            traceback.print_exc(file=f)
    finally:
        ctx.finish()
    if status != "SKIP":
        leaks = ctx.leaks()
        if leaks:
            status = "FAIL"
            figures += "; secrets leaked: " + ", ".join("%s in %s" % (k, ",".join(sorted(set(v)))) for k, v in leaks.items())
    elapsed = time.monotonic() - started
    return status, figures, elapsed


def main():
    parser = argparse.ArgumentParser(
        prog="scripts/chaos",
        description="Fault, abuse and security scenarios against real servers on loopback. One line per scenario: "
                    "PASS|FAIL|SKIP <scenario> <figures>. Exit status 1 if any scenario failed.")
    parser.add_argument("scenario", nargs="*", default=["all"], help="scenario names, or all (default)")
    parser.add_argument("--quick", action="store_true", help="the CI subset with smaller counts (under 10 minutes)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--work", help="work directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, journals, traces)")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--markdown", help="also write the results as a Markdown table to this file")
    args = parser.parse_args()

    registry = scenarios.REGISTRY
    if args.list:
        for s in registry:
            print("%-22s %-6s %s" % (s.name, "quick" if s.quick else "full", s.summary))
        return 0
    names = args.scenario
    if names == ["all"]:
        chosen = [s for s in registry if s.quick or not args.quick]
    else:
        by_name = {s.name: s for s in registry}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            parser.error("unknown scenario(s): %s (see --list)" % ", ".join(unknown))
        chosen = [by_name[n] for n in names]

    suite = Suite(args)
    sys.stderr.write("chaos: %d scenario(s)%s, binary %s (%s build), work %s\n" %
                     (len(chosen), " (quick)" if args.quick else "", suite.binary, build_kind(suite.binary), suite.work))
    results = []
    failed = False
    began = time.monotonic()
    try:
        for scenario in chosen:
            sys.stderr.write("--> %s\n" % scenario.name)
            status, figures, elapsed = run_one(suite, scenario)
            failed |= status == "FAIL"
            print("%s %s %s (%.0f s)" % (status, scenario.name, figures, elapsed), flush=True)
            results.append({"scenario": scenario.name, "status": status, "figures": figures, "seconds": round(elapsed, 1)})
    finally:
        suite.servers.stop()
    total = time.monotonic() - began
    summary = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick, "build": build_kind(suite.binary), "seconds": round(total),
        "machine": "%s, %d cores" % (platform.platform(terse=True), os.cpu_count() or 0),
        "results": results,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("Run %s, %s build, %s, %d s%s.\n\n" % (summary["when"], summary["build"], summary["machine"],
                                                          summary["seconds"], ", --quick" if args.quick else ""))
            f.write("| scenario | result | figures | s |\n|---|---|---|---|\n")
            for r in results:
                f.write("| %s | %s | %s | %.0f |\n" % (r["scenario"], r["status"], r["figures"].replace("|", "/"), r["seconds"]))
    counts = {k: sum(1 for r in results if r["status"] == k) for k in ("PASS", "FAIL", "SKIP")}
    sys.stderr.write("chaos: %d passed, %d failed, %d skipped in %.0f s\n" % (counts["PASS"], counts["FAIL"], counts["SKIP"], total))
    if not args.keep and not failed:
        shutil.rmtree(suite.work, ignore_errors=True)
    else:
        sys.stderr.write("chaos: logs kept in %s\n" % suite.work)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
