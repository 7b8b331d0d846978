#!/usr/bin/env python3
"""CPU profiles behind docs/performance.md, with `perf record` (Debian's linux-perf).

  profile.py intake SLUICE_BIN [SECONDS] [CONNECTIONS]   sluice serve under wrk (unique events, keep-alive),
                                                         sampled for SECONDS (default 6) at CONNECTIONS (256)
  profile.py decode DECODE_BENCH FILE...                 sluice-decode-bench on each file, 10 scans each

Prints where the samples fall by thread (intake), by library, and the top symbols (demangled with
`swift demangle`). The perf.data files stay under .bench-data/profile/ for `perf report`. The kernel's cpu-clock
event is used, since these virtual machines expose no hardware counters; valgrind's callgrind, which would count
instructions repeatably, cannot run Swift 6.3 binaries with Debian 12's valgrind 3.19 (see docs/performance.md).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, ".bench-data", "profile")


def report(data, sort, limit, extra=()):
    result = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort, "--stdio", "-g", "none"]
                            + list(extra), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = [l for l in result.stdout.splitlines() if l.strip() and not l.startswith("#") and "%" in l][:limit]
    text = "\n".join(lines)
    if shutil.which("swift"):
        text = subprocess.run(["swift", "demangle", "--simplified"], input=text, stdout=subprocess.PIPE,
                              text=True).stdout
    print("\n".join(l.rstrip()[:160] for l in text.splitlines()))


def profile_intake(binary, seconds, connections):
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="intake-", dir=OUT)
    config = os.path.join(work, "sluice.yaml")
    with open(config, "w") as f:
        f.write("http:\n  host: 127.0.0.1\n  port: 0\n  drain_seconds: 0\nintake:\n  bucket: data-pipeline-curated-dev\n"
                "journal:\n  path: %s\n  max_pending: 100000000\nlog:\n  level: notice\n" %
                os.path.join(work, "journal.db"))
    log_path = os.path.join(work, "serve.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    with open(log_path, "w") as log:
        server = subprocess.Popen([binary, "serve", "--config", config], stdout=log, stderr=subprocess.STDOUT, env=env)
    port = None
    for _ in range(600):
        m = re.search(r'"port":"(\d+)"', open(log_path).read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    if port is None:
        server.kill()
        raise SystemExit("sluice serve did not start: " + open(log_path).read()[-2000:])
    url = "http://127.0.0.1:%d" % port
    script = os.path.join(LIB, "intake.lua")
    data = os.path.join(work, "perf.data")
    try:
        subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d2s", "-s", script, url, "--", "events", "warm"],
                       stdout=subprocess.DEVNULL)
        perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(server.pid), "--",
                                 "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wrk = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "-s", script, url, "--", "events",
                              str(os.getpid())], stdout=subprocess.PIPE, text=True)
        perf.wait()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(next((l for l in wrk.stdout.splitlines() if l.startswith("RESULT")), "no wrk result"))
    print("\nby thread:")
    report(data, "comm", 8)
    print("\nby library:")
    report(data, "dso", 10)
    print("\ntop symbols:")
    report(data, "dso,symbol", 30)
    print("\nperf data: %s" % data)


def profile_decode(tool, files):
    os.makedirs(OUT, exist_ok=True)
    for path in files:
        data = os.path.join(OUT, "decode.%s.data" % os.path.basename(path))
        subprocess.run(["perf", "record", "-F", "999", "-g", "-o", data, "--", tool, "--warmup", "1", "--repeat", "10",
                        path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        print("== %s" % os.path.basename(path))
        print("by library:")
        report(data, "dso", 6)
        print("top symbols:")
        report(data, "dso,symbol", 12)
        print()


if __name__ == "__main__":
    if not shutil.which("perf"):
        sys.exit("perf is not installed (apt-get install linux-perf)")
    if len(sys.argv) >= 3 and sys.argv[1] == "intake":
        profile_intake(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 6,
                       int(sys.argv[4]) if len(sys.argv) > 4 else 256)
    elif len(sys.argv) >= 4 and sys.argv[1] == "decode":
        profile_decode(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
