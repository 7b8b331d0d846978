#!/usr/bin/env python3
"""Instruction counts under valgrind's callgrind: repeatable on a noisy machine, unlike times.

  profile.py intake SLUICE_BIN [EVENTS]       sluice serve under callgrind; EVENTS unique POST /v1/events, then
                                              as many GET /health; prints instructions per event and per /health
  profile.py decode DECODE_BENCH FILE...      sluice-decode-bench under callgrind, one scan per file; prints
                                              instructions per decoded MB

Each run leaves its callgrind.out file in .bench-data/profile/ and prints the top functions (inclusive) with
callgrind_annotate. Used to write docs/performance.md; not part of `scripts/bench`.
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, ".bench-data", "profile")

EVENT = ('{"version":"0","id":"%s","detail-type":"Object Created","source":"aws.s3","account":"111122223333",'
         '"time":"2025-09-10T00:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::data-pipeline-curated-dev"],'
         '"detail":{"version":"0","bucket":{"name":"data-pipeline-curated-dev"},"object":{"key":'
         '"market/prices/ds=2025-09-10/%s.parquet","size":1048576,"etag":"%s","sequencer":"%s"},'
         '"request-id":"N4N7GDK58NMKJ12R","requester":"123456789012","source-ip-address":"127.0.0.1",'
         '"reason":"PutObject"}}')


def total_instructions(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return 0


def annotate(path, limit=25):
    result = subprocess.run(["callgrind_annotate", "--inclusive=yes", path], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines = [l for l in result.stdout.splitlines() if re.match(r"^\s*[\d,]+ \(", l)]
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(lines[:limit]),
                               stdout=subprocess.PIPE, text=True).stdout
    print(demangled)


def post_events(port, count, clients, tag):
    def worker(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for n in range(index, count, clients):
            name = "profile-%s-%d" % (tag, n)
            body = EVENT % (name, name, "%s%08x" % (tag, n), "%s%08x" % (tag, n))
            conn.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 202:
                raise SystemExit("unexpected status %d" % response.status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def get_health(port, count, clients):
    def worker(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(index, count, clients):
            conn.request("GET", "/health")
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def profile_intake(binary, events):
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="profile-intake-", dir=OUT)
    config = os.path.join(work, "sluice.yaml")
    with open(config, "w") as f:
        f.write("http:\n  host: 127.0.0.1\n  port: 0\n  drain_seconds: 0\nintake:\n  bucket: data-pipeline-curated-dev\n"
                "journal:\n  path: %s\n  max_pending: 100000000\nlog:\n  level: notice\n" %
                os.path.join(work, "journal.db"))
    out = os.path.join(work, "callgrind.out")
    log_path = os.path.join(work, "serve.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    with open(log_path, "w") as log:
        process = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out + ".%p",
                                    "--collect-atstart=yes", binary, "serve", "--config", config],
                                   stdout=log, stderr=subprocess.STDOUT, env=env)
    port = None
    for _ in range(1200):
        text = open(log_path).read()
        m = re.search(r'"port":"(\d+)"', text)
        if m and "listening" in text:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if port is None:
        process.kill()
        raise SystemExit("sluice serve did not start under callgrind:\n" + open(log_path).read()[-2000:])
    tag = str(os.getpid())
    subprocess.run(["callgrind_control", "-z", str(process.pid)], stdout=subprocess.DEVNULL)
    post_events(port, 50, 4, tag + "w")  # warm-up: first-use costs (metrics, statements) out of the count
    subprocess.run(["callgrind_control", "-d", "warmup", str(process.pid)], stdout=subprocess.DEVNULL)
    start = time.time()
    post_events(port, events, 8, tag)
    subprocess.run(["callgrind_control", "-d", "events", str(process.pid)], stdout=subprocess.DEVNULL)
    elapsed = time.time() - start
    get_health(port, events, 8)
    subprocess.run(["callgrind_control", "-d", "health", str(process.pid)], stdout=subprocess.DEVNULL)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    dumps = sorted(f for f in os.listdir(work) if f.startswith("callgrind.out"))
    by_name = {}
    for f in dumps:
        with open(os.path.join(work, f)) as handle:
            head = handle.read(4000)
        m = re.search(r"^desc: Trigger: (.*)$", head, re.M)
        by_name[(m.group(1).strip() if m else "") + " " + f] = os.path.join(work, f)
    print("callgrind dumps: %s" % sorted(by_name))
    ev = next((p for n, p in by_name.items() if "events" in n), None)
    he = next((p for n, p in by_name.items() if "health" in n), None)
    if ev and he:
        e, h = total_instructions(ev), total_instructions(he)
        print(json.dumps({"events": events, "instructions_per_event": e // events,
                          "instructions_per_health": h // events, "wall_seconds_under_callgrind": round(elapsed, 1)}))
        print("\ntop functions, inclusive, for the events phase (%s):" % ev)
        annotate(ev)
    else:
        print("callgrind dumps: %s" % dumps)


def profile_decode(tool, files):
    os.makedirs(OUT, exist_ok=True)
    for path in files:
        out = os.path.join(OUT, "callgrind.decode.%s" % os.path.basename(path))
        result = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, tool, "--warmup", "0",
                                 "--repeat", "1", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        import pyarrow.parquet as pq
        arrow_bytes = pq.read_table(path, use_threads=False).nbytes
        total = total_instructions(out)
        print(json.dumps({"file": os.path.basename(path), "instructions": total,
                          "instructions_per_decoded_byte": round(total / max(arrow_bytes, 1), 2),
                          "sluice_decoded_bytes": summary.get("decoded_bytes")}))
        annotate(out, 15)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "intake":
        profile_intake(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2000)
    elif len(sys.argv) >= 4 and sys.argv[1] == "decode":
        profile_decode(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
