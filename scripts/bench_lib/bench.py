#!/usr/bin/env python3
"""Sluice's benchmark harness; `scripts/bench` installs what is missing and runs this.

  bench.py [intake|decode|load|e2e|memory|micro|all]... [--quick]

Every benchmark measures against a baseline taken in the same run (absolute times on shared machines are
noise), with warm-up and several repetitions, and prints one table with the median, the spread and the ratio
to that baseline. Nothing here asserts a timing: the exit status is 0 whatever the figures (it is non-zero only
when the harness itself cannot run, for example when a build fails).

Environment:
  SLUICE_BIN               a sluice binary to use instead of building one
  SLUICE_BENCH_CONFIG      release (default) or debug: how sluice and the Benchmarks package are built
  SLUICE_BENCH_SCRATCH     scratch path for the sluice build (default <root>/.build-bench-<config>)
  SLUICE_BENCH_DATA_DIR    where generated data is cached (default <root>/.bench-data)
  SLUICE_BENCH_CONNECTIONS intake concurrency levels, comma-separated (default 64 with --quick, else 32,256)

  bench.py --update-thresholds   rewrites Benchmarks/Thresholds from a fresh release run of the micro suite
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.path.dirname(os.path.abspath(__file__))
BENCH_PKG = os.path.join(ROOT, "Benchmarks")
DATA = os.environ.get("SLUICE_BENCH_DATA_DIR") or os.path.join(ROOT, ".bench-data")
CONFIG = os.environ.get("SLUICE_BENCH_CONFIG", "release")
if CONFIG not in ("release", "debug"):
    sys.exit("SLUICE_BENCH_CONFIG must be release or debug")

ALL = ["intake", "decode", "load", "e2e", "memory", "micro"]


def log(message):
    print("\033[1m==> %s\033[0m" % message, file=sys.stderr, flush=True)


# MARK: statistics and tables

def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values):
    """Half the min-max range as a percentage of the median: how far the repetitions scatter."""
    if len(values) < 2:
        return 0.0
    m = median(values)
    return 0.0 if m == 0 else (max(values) - min(values)) / 2 / m * 100


def fmt_rate(value, spread_pct=None):
    if value != value:  # NaN
        return "-"
    text = "%.0f" % value if value >= 100 else "%.1f" % value
    return text if spread_pct is None else "%s ±%.0f%%" % (text, spread_pct)


def fmt_ratio(value):
    return "-" if value is None or value != value else "%.2fx" % value


def geomean(values):
    values = [v for v in values if v and v == v and v > 0]
    if not values:
        return float("nan")
    product = 1.0
    for v in values:
        product *= v
    return product ** (1.0 / len(values))


def table(title, headers, rows, notes=()):
    """Prints a plain-text table: left-aligned first column, right-aligned figures."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(str(cell)))
    print()
    print(title)
    print("-" * len(title))

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            out.append(str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i]))
        return "  ".join(out).rstrip()

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    for note in notes:
        print(note)
    sys.stdout.flush()


# MARK: machine and builds

def machine_summary():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = " ".join("%.2f" % x for x in os.getloadavg())
    return "%d cores (nproc), %s, load average %s" % (os.cpu_count() or 0, model, load)


def run_build(args, cwd, what):
    log("building %s (%s)" % (what, CONFIG))
    started = time.time()
    result = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.time() - started
    if result.returncode != 0:
        lines = [l for l in result.stdout.splitlines() if not re.match(r"^\[\d+/\d+\]", l)]
        print("\n".join(lines[-60:]), file=sys.stderr)
        raise SystemExit("bench: building %s failed" % what)
    log("built %s in %.0f s" % (what, elapsed))


_sluice = None


def sluice_binary():
    """The sluice binary: SLUICE_BIN, or a build of the main package in its own scratch path."""
    global _sluice
    if _sluice:
        return _sluice
    if os.environ.get("SLUICE_BIN"):
        _sluice = os.path.abspath(os.environ["SLUICE_BIN"])
        if not os.access(_sluice, os.X_OK):
            raise SystemExit("bench: SLUICE_BIN=%s is not executable" % _sluice)
        return _sluice
    scratch = os.environ.get("SLUICE_BENCH_SCRATCH") or os.path.join(ROOT, ".build-bench-" + CONFIG)
    run_build(["swift", "build", "-c", CONFIG, "--product", "sluice", "--scratch-path", scratch], ROOT, "sluice")
    _sluice = os.path.join(scratch, CONFIG, "sluice")
    return _sluice


_decode_tool = None


def decode_tool():
    global _decode_tool
    if _decode_tool:
        return _decode_tool
    run_build(["swift", "build", "-c", CONFIG, "--product", "sluice-decode-bench"], BENCH_PKG, "sluice-decode-bench")
    _decode_tool = os.path.join(BENCH_PKG, ".build", CONFIG, "sluice-decode-bench")
    return _decode_tool


def loader_available():
    """Whether this sluice build has the loader (`sluice load --help` exits 0)."""
    try:
        result = subprocess.run([sluice_binary(), "load", "--help"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=30)
        # ArgumentParser answers `--help` after an unknown subcommand with the root help and exit 0, so the
        # usage line must name the subcommand too.
        return result.returncode == 0 and re.search(r"USAGE: sluice load\b", result.stdout) is not None
    except (OSError, subprocess.TimeoutExpired):
        return False


def generate(kind, quick=False):
    """Generated Parquet data under .bench-data, cached (a directory with a manifest is complete)."""
    name = {"decode": "decode-v1-" + ("quick" if quick else "full"), "micro": "micro-v1"}[kind]
    out = os.path.join(DATA, name)
    manifest = os.path.join(out, "manifest.json")
    if not os.path.exists(manifest):
        log("generating %s data in %s" % (kind, out))
        args = [sys.executable, os.path.join(LIB, "gen_data.py"), kind, out] + (["--quick"] if quick else [])
        subprocess.run(args, check=True)
    with open(manifest) as f:
        return out, json.load(f)


# MARK: intake

class SluiceServer:
    """`sluice serve` on a free loopback port with a fresh journal in `workdir`, intake only (`loader.workers: 0`):
    the benchmark measures intake, and loaders failing against an absent ClickHouse would compete for the
    journal's writer (see docs/performance.md)."""

    def __init__(self, workdir):
        self.workdir = workdir
        config = os.path.join(workdir, "sluice.yaml")
        with open(config, "w") as f:
            f.write("""http:
  host: 127.0.0.1
  port: 0
  drain_seconds: 0
intake:
  bucket: data-pipeline-curated-dev
journal:
  path: %s
  max_pending: 100000000
loader:
  workers: 0
log:
  level: notice
  format: json
""" % os.path.join(workdir, "journal.db"))
        self.log_path = os.path.join(workdir, "sluice.log")
        self.log_file = open(self.log_path, "w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        self.process = subprocess.Popen([sluice_binary(), "serve", "--config", config], stdout=self.log_file,
                                        stderr=subprocess.STDOUT, env=env)
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(self.log_path) as f:
                text = f.read()
            m = re.search(r'"msg":"listening".*?"port":"(\d+)"', text) or \
                re.search(r'"port":"(\d+)".*?"msg":"listening"', text)
            if m:
                self.port = int(m.group(1))
                break
            if self.process.poll() is not None:
                raise SystemExit("bench: sluice serve exited:\n" + text[-3000:])
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise SystemExit("bench: sluice serve did not report its port")
        self.url = "http://127.0.0.1:%d" % self.port

    def cpu_seconds(self):
        """User + system CPU time the server has used so far (from /proc)."""
        try:
            with open("/proc/%d/stat" % self.process.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def queued_total(self):
        """sluice_events_received_total{outcome="queued"} summed over sources."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0
        for line in text.splitlines():
            if line.startswith("sluice_events_received_total{") and 'outcome="queued"' in line:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def wrk(url, mode, run_id, close, seconds, threads, connections):
    args = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--timeout", "10s",
            "-s", os.path.join(LIB, "intake.lua"), url, "--", mode, run_id] + (["close"] if close else [])
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    m = re.search(r"^RESULT (\{.*\})$", result.stdout, re.M)
    if not m:
        raise SystemExit("bench: wrk printed no result:\n" + result.stdout[-2000:])
    return json.loads(m.group(1))


def fsync_probe(directory, count):
    """Latency of a 4 KiB append + fsync in `directory`: the floor under every durable 202."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    times = []
    try:
        for _ in range(count):
            os.write(fd, b"\0" * 4096)
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.remove(path)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def bench_intake(quick):
    if not shutil.which("wrk"):
        print("\nintake: wrk is not installed (apt-get install wrk); skipped")
        return
    seconds = 3 if quick else 10
    reps = 3 if quick else 5
    warmup = 1 if quick else 3
    threads = 2
    # keep-alive at one or two concurrency levels (by Little's law, events/s = in-flight requests / latency, and
    # latency is at least one fsync); Connection: close at the lower level only (each request is a new socket).
    levels = [int(c) for c in os.environ.get("SLUICE_BENCH_CONNECTIONS", "64" if quick else "32,256").split(",")]
    plans = [(False, c) for c in levels] + [(True, min(levels))]
    binary = sluice_binary()
    os.makedirs(DATA, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="intake-", dir=DATA)
    fsync_p50, fsync_p99 = fsync_probe(workdir, 200 if quick else 1000)
    server = SluiceServer(workdir)
    log("intake: sluice serve on %s, journal in %s" % (server.url, workdir))
    rows = []
    notes = []
    summary = {}
    cpu_ceiling = {}
    run = [0]

    def once(mode, close, duration, connections):
        run[0] += 1
        before = server.queued_total() if mode == "events" else 0
        cpu_before = server.cpu_seconds()
        r = wrk(server.url, mode, "%d%d" % (os.getpid(), run[0]), close, duration, threads, connections)
        r["cpu_us_per_request"] = (server.cpu_seconds() - cpu_before) * 1e6 / max(r["requests"], 1)
        if mode == "events":
            # Requests still in flight when wrk stops are answered after its window: wait for the counter to settle.
            after = server.queued_total()
            for _ in range(50):
                time.sleep(0.1)
                now = server.queued_total()
                if now == after:
                    break
                after = now
            r["queued_delta"] = after - before
        return r

    try:
        for close, connections in plans:
            label = "%s, %d conn" % ("Connection: close" if close else "keep-alive", connections)
            once("health", close, warmup, connections)
            once("events", close, warmup, connections)
            health, events = [], []
            for _ in range(reps):
                health.append(once("health", close, seconds, connections))
                events.append(once("events", close, seconds, connections))
            h_rate = [r["requests"] / (r["duration_us"] / 1e6) for r in health]
            e_rate = [r["accepted_202"] / (r["duration_us"] / 1e6) for r in events]
            # Every 202 wrk counted must be a queued entry; the metric may be ahead by the requests that were in
            # flight when wrk stopped (at most one per connection), never behind.
            mismatch = [(r["accepted_202"], r["queued_delta"]) for r in events
                        if not 0 <= r["queued_delta"] - r["accepted_202"] <= connections]
            rejected = sum(r["other"] + r["ok_200"] for r in events)
            # With `Connection: close` wrk counts the server's close after each answer as a read error; those are
            # left out (the baseline shows the same count).
            errors = sum(r["connect_errors"] + r["write_errors"] + r["timeouts"] +
                         (0 if close else r["read_errors"]) for r in events)
            h_cpu = median([r["cpu_us_per_request"] for r in health])
            e_cpu = median([r["cpu_us_per_request"] for r in events])
            rows.append(["GET /health (baseline), " + label, fmt_rate(median(h_rate), spread(h_rate)),
                         "%.2f" % (median([r["p50_us"] for r in health]) / 1000),
                         "%.2f" % (median([r["p99_us"] for r in health]) / 1000), "1.00x", "%.0f" % h_cpu, "1.00x",
                         "-"])
            rows.append(["POST /v1/events, " + label, fmt_rate(median(e_rate), spread(e_rate)),
                         "%.2f" % (median([r["p50_us"] for r in events]) / 1000),
                         "%.2f" % (median([r["p99_us"] for r in events]) / 1000),
                         fmt_ratio(median(e_rate) / median(h_rate)), "%.0f" % e_cpu,
                         fmt_ratio(e_cpu / h_cpu if h_cpu else float("nan")), "%d / %d" % (rejected, errors)])
            cpu_ceiling[label] = (os.cpu_count() or 1) * 1e6 / e_cpu if e_cpu else float("nan")
            if mismatch:
                notes.append("  %s: 202 answers and the queued-metric delta disagree in %d run(s) (202s, delta): %s" %
                             (label, len(mismatch), mismatch[:3]))
            else:
                notes.append("  %s: every 202 is a queued entry (metric delta - 202s within 0..%d in-flight)" %
                             (label, connections))
            if rejected:
                last = [r["last_other"] for r in events if r["last_other"]]
                notes.append("  %s: %d event answers were not 202 (last status %s)" % (label, rejected,
                                                                                      last[-1] if last else "200"))
            summary[label] = (median(e_rate), median([r["p99_us"] for r in events]) / 1000)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    notes.insert(0, "  wrk -t%d, %d s x %d repetitions after a %d s warm-up; events/s = 202 answers / duration, "
                    "checked against sluice_events_received_total{outcome=\"queued\"}; ±: half the min-max range" %
                 (threads, seconds, reps, warmup))
    notes.append("  fsync floor on the journal's disk (4 KiB append + fsync, in this run): p50 %.2f ms, p99 %.2f ms; "
                 "every 202 waits for one group commit, so p99 cannot be below the fsync p99" %
                 (fsync_p50 * 1000, fsync_p99 * 1000))
    notes.append("  server CPU µs/req: user + system CPU of the sluice process (/proc) per request; %d cores / that = "
                 "the rate the server's own CPU would allow if it had the machine to itself: %s" %
                 (os.cpu_count() or 1, ", ".join("%s %.0f/s" % (k, v) for k, v in cpu_ceiling.items())))
    for label, (rate, p99) in summary.items():
        notes.append("  goal (>= 20,000 durable events/s, p99 < 10 ms), %s: %s (%.0f/s, p99 %.2f ms)" %
                     (label, "met" if rate >= 20000 and p99 < 10 else "not met", rate, p99))
    if CONFIG == "debug" and not os.environ.get("SLUICE_BIN"):
        notes.append("  debug build: the figures exercise the harness, they say nothing about performance")
    table("intake: %s" % os.path.basename(binary),
          ["endpoint", "req or events/s", "p50 ms", "p99 ms", "vs /health", "CPU µs/req", "CPU vs /health",
           "non-202 / socket errors"],
          rows, notes)


# MARK: decode

def time_pyarrow(path, threaded, warmup, reps, min_sample):
    """Seconds per read_table, one figure per sample; a sample repeats the read for at least min_sample seconds
    (the same rule as sluice-decode-bench)."""
    import pyarrow.parquet as pq
    last = 0.0
    for _ in range(max(warmup, 1)):
        start = time.perf_counter()
        pq.read_table(path, use_threads=threaded)
        last = time.perf_counter() - start
    inner = min(max(int(-(-min_sample // last)) if last > 0 else 1, 1), 10_000)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            pq.read_table(path, use_threads=threaded)
        times.append((time.perf_counter() - start) / inner)
    return times


def bench_decode(quick):
    directory, manifest = generate("decode", quick)
    tool = decode_tool()
    warmup, reps = 1, (3 if quick else 5)
    min_sample = 0.05 if quick else 0.25
    rows = []
    ratios_single, ratios_threaded = [], []
    failures = []
    for entry in manifest["files"]:
        path = os.path.join(directory, entry["file"])
        mb = entry["arrow_bytes"] / 1e6
        result = subprocess.run([tool, "--warmup", str(warmup), "--repeat", str(reps),
                                 "--min-sample-seconds", str(min_sample), path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sluice = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else \
            {"error": result.stderr.strip()[-200:] or "exit %d" % result.returncode}
        single = time_pyarrow(path, False, warmup, reps, min_sample)
        threaded = time_pyarrow(path, True, warmup, reps, min_sample)
        s_rate = [mb / t for t in single]
        t_rate = [mb / t for t in threaded]
        if sluice.get("error"):
            failures.append("  %s: %s" % (entry["file"], sluice["error"]))
            rows.append([entry["shape"], entry["codec"], "%.1f" % mb, "error", fmt_rate(median(s_rate), spread(s_rate)),
                         fmt_rate(median(t_rate), spread(t_rate)), "-", "-"])
            continue
        o_rate = [mb / t for t in sluice["seconds"]]
        r1 = median(o_rate) / median(s_rate)
        rt = median(o_rate) / median(t_rate)
        ratios_single.append(r1)
        ratios_threaded.append(rt)
        rows.append([entry["shape"], entry["codec"], "%.1f" % mb, fmt_rate(median(o_rate), spread(o_rate)),
                     fmt_rate(median(s_rate), spread(s_rate)), fmt_rate(median(t_rate), spread(t_rate)),
                     fmt_ratio(r1), fmt_ratio(rt)])
    rows.append(["geometric mean", "", "", "", "", "", fmt_ratio(geomean(ratios_single)),
                 fmt_ratio(geomean(ratios_threaded))])
    import pyarrow
    notes = ["  MB = decoded Arrow size of the table (pyarrow nbytes), the same for every reader; MB/s = MB / median "
             "time of open + decode of the whole file, %d samples of >= %.2f s each after %d warm-up; ±: half the "
             "min-max range" % (reps, min_sample, warmup),
             "  sluice = ParquetFile.open + scan (sluice-decode-bench, %s); pyarrow %s read_table(use_threads=False) "
             "and read_table(use_threads=True) on %d cores" % (CONFIG, pyarrow.__version__, os.cpu_count() or 0),
             "  goal: >= 1.00x pyarrow single-threaded"]
    if failures:
        notes.append("  files Sluice could not decode:")
        notes.extend(failures)
    if CONFIG == "debug":
        notes.append("  debug build: the figures exercise the harness, they say nothing about performance")
    table("decode: Sluice's Parquet decoder vs pyarrow (%s files)" % ("quick" if quick else "full"),
          ["shape", "codec", "MB", "sluice MB/s", "pyarrow 1t MB/s", "pyarrow mt MB/s", "vs 1t", "vs mt"],
          rows, notes)


# MARK: micro

# Benchmarks that run an inner loop of 1,000 operations per measured iteration (scalingFactor .kilo).
SCALED = ("JSON.", "EventPattern.", "SigV4.")
# The in-run baseline of the Parquet rows: a PLAIN, uncompressed chunk is one bounds-checked memcpy.
MICRO_BASELINE = "Parquet.plain-int64-uncompressed"
MICRO_FILES = {
    "Parquet.bit-unpack-dict-indices-17bit-int32": "bitpack_w17.parquet",
    "Parquet.rle-dict-runs-int64": "rle_runs.parquet",
    "Parquet.dict-gather-strings": "dict_strings.parquet",
    "Parquet.def-levels-50pct-nulls-int64": "levels_nullable.parquet",
    "Parquet.delta-binary-packed-int64": "delta_int64.parquet",
    "Parquet.delta-byte-array-strings": "delta_strings.parquet",
    "Parquet.plain-int64-uncompressed": "plain_int64.none.parquet",
    "Parquet.plain-int64-snappy": "plain_int64.snappy.parquet",
    "Parquet.plain-int64-zstd": "plain_int64.zstd.parquet",
}


def swift_benchmark(args, env):
    command = ["swift", "package", "--package-path", BENCH_PKG, "--disable-sandbox", "benchmark"] + args + \
              ["--benchmark-build-configuration", CONFIG]
    return subprocess.run(command, cwd=BENCH_PKG, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def bench_micro(quick):
    directory, manifest = generate("micro")
    sizes = {f["file"]: f["arrow_bytes"] for f in manifest["files"]}
    env = dict(os.environ, SLUICE_BENCH_DATA=directory, SLUICE_BENCH_QUICK="1" if quick else "0")
    if CONFIG == "debug":
        # package-benchmark's runner, started by its plugin, crashes (SIGSEGV) on Swift 6.3 debug builds without the
        # swift-runtime-interposer package, which is not available here; the suite's own executable runs fine. In
        # debug the figures mean nothing anyway, so run every benchmark once through the executable and report.
        run_build(["swift", "build", "-c", "debug", "--product", "SluiceMicro"], BENCH_PKG, "SluiceMicro")
        executable = os.path.join(BENCH_PKG, ".build", "debug", "SluiceMicro")
        result = subprocess.run([executable], env=dict(env, SLUICE_BENCH_QUICK="1"), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in result.stdout.splitlines():
            if line.startswith("SluiceMicro:"):
                print(line)
        if result.returncode != 0:
            print(result.stdout[-3000:])
            raise SystemExit("the micro suite exited with %d" % result.returncode)
        print("\nmicro (debug build): every benchmark of Benchmarks/SluiceMicro ran; figures and the allocation "
              "thresholds need a release build (scripts/bench micro)")
        return
    export = tempfile.mkdtemp(prefix="micro-", dir=DATA)
    try:
        log("micro: building and running Benchmarks/SluiceMicro (package-benchmark, %s)" % CONFIG)
        started = time.time()
        result = swift_benchmark(["--target", "SluiceMicro", "--no-progress", "--format", "jmh", "--path", export],
                                 env)
        log("micro: run finished in %.0f s" % (time.time() - started))
        exported = [os.path.join(export, f) for f in os.listdir(export) if f.endswith(".json")]
        if result.returncode != 0 or not exported:
            print(result.stdout[-4000:])
            print("\nmicro: package-benchmark did not produce results (exit %d)" % result.returncode)
            return
        elements = []
        for path in exported:
            with open(path) as f:
                elements.extend(json.load(f))
        for line in result.stdout.splitlines():
            if line.startswith("SluiceMicro:"):
                print(line)
        results = {}
        for element in elements:
            name = element["benchmark"].split(".SluiceMicro.", 1)[-1]
            wall = element["secondaryMetrics"].get("Time (wall clock)") or element["secondaryMetrics"].get("wallClock")
            if wall is None:
                wall = next((v for k, v in element["secondaryMetrics"].items() if "wall" in k.lower()), None)
            mallocs = next((v for k, v in element["secondaryMetrics"].items() if "malloc" in k.lower()), None)
            if wall is None:
                continue
            p = wall["scorePercentiles"]
            scale = 1000 if name.startswith(SCALED) else 1
            results[name] = {
                "p50": p["50.0"] / scale, "p0": p["0.0"] / scale, "p90": p["90.0"] / scale,
                "mallocs": mallocs["scorePercentiles"]["90.0"] / scale if mallocs else None,
                "mallocs_raw": mallocs["scorePercentiles"]["90.0"] if mallocs else None,
                "n": element.get("measurementIterations"),
            }
        base = results.get(MICRO_BASELINE)
        base_rate = sizes[MICRO_FILES[MICRO_BASELINE]] / base["p50"] if base else None
        rows = []
        for name in sorted(results, key=lambda n: (not n.startswith("Parquet."), n)):
            r = results[name]
            spread_pct = (r["p90"] - r["p0"]) / 2 / r["p50"] * 100 if r["p50"] else 0
            file = MICRO_FILES.get(name)
            if file and r["p50"]:
                rate = sizes[file] / r["p50"]  # bytes per microsecond = MB/s
                throughput = "%.0f MB/s" % rate
                ratio = fmt_ratio(rate / base_rate) if base_rate else "-"
            else:
                throughput = "%.0f op/s" % (1e6 / r["p50"]) if r["p50"] else "-"
                ratio = "-"
            mallocs = "-" if r["mallocs"] is None else ("%.0f" % r["mallocs"] if r["mallocs"] >= 1 else
                                                       "%.3f" % r["mallocs"])
            rows.append([name, "%.2f ±%.0f%%" % (r["p50"], spread_pct), throughput, ratio, mallocs])
        table("micro: package-benchmark (Benchmarks/SluiceMicro, %s)" % CONFIG,
              ["benchmark", "p50 µs/op", "throughput", "vs plain", "mallocs p90/op"], rows,
              ["  ±: half the p0-p90 range of the iterations; Parquet MB/s over the decoded Arrow size of the "
               "chunk; vs plain: throughput relative to the PLAIN uncompressed int64 chunk (a bounds-checked copy)",
               "  %s" % ("quick: short runs, few iterations" if quick else "full runs")])
        check_mallocs(results, quick)
        if quick:
            return
        log("micro: package-benchmark's own check of Benchmarks/Thresholds")
        check = swift_benchmark(["thresholds", "check", "--target", "SluiceMicro", "--no-progress",
                                 "--path", os.path.join(BENCH_PKG, "Thresholds")], env)
        lines = [l for l in check.stdout.splitlines()
                 if not re.match(r"^(\[\d+/\d+\]|Building|Build complete|Compiling|Write|Linking|Planning)", l)]
        print("\nmicro: malloc-count thresholds (Benchmarks/Thresholds, tolerance in SluiceMicro.swift)")
        print("\n".join(lines[-40:]))
        verdict = {0: "equal to the thresholds", 2: "REGRESSION: more allocations than the thresholds allow",
                   4: "better than the thresholds (lower them with scripts/bench micro --update-thresholds)"}
        print("micro: allocations %s (exit %d; reported, never failing the run)" %
              (verdict.get(check.returncode, "not checked"), check.returncode))
    finally:
        shutil.rmtree(export, ignore_errors=True)


def check_mallocs(results, quick):
    """Compares each benchmark's p90 allocations per iteration with its Benchmarks/Thresholds file, with the
    tolerance SluiceMicro.swift declares (2 % or 8 allocations, whichever is larger). This is what
    `swift package benchmark thresholds check` does; doing it here saves a second run of the suite."""
    directory = os.path.join(BENCH_PKG, "Thresholds")
    rows, regressions, improvements = [], 0, 0
    for name in sorted(results):
        observed = results[name]["mallocs_raw"]
        path = os.path.join(directory, "SluiceMicro.%s.p90.json" % name)
        if observed is None or not os.path.exists(path):
            rows.append([name, "-" if observed is None else "%.0f" % observed, "none", "-"])
            continue
        with open(path) as f:
            expected = json.load(f).get("mallocCountTotal")
        if expected is None:
            rows.append([name, "%.0f" % observed, "none", "-"])
            continue
        allowed = max(8, expected * 0.02)
        if CONFIG == "debug":
            verdict = "not compared (debug build)"
        elif observed > expected + allowed:
            verdict = "REGRESSION"
            regressions += 1
        elif observed < expected - allowed:
            verdict = "better (update the threshold)"
            improvements += 1
        else:
            verdict = "ok"
        rows.append([name, "%.0f" % observed, "%d ±%.0f" % (expected, allowed), verdict])
    table("micro: allocations per iteration (p90) against Benchmarks/Thresholds", ["benchmark", "mallocs",
          "threshold", "verdict"], rows,
          ["  %d regression(s), %d improvement(s); reported, never failing the run; rewrite the files with "
           "scripts/bench --update-thresholds after an intended change" % (regressions, improvements)])


def update_thresholds():
    """Rewrites Benchmarks/Thresholds from a fresh run, keeping only mallocCountTotal (the deterministic metric)."""
    directory, _ = generate("micro")
    env = dict(os.environ, SLUICE_BENCH_DATA=directory, SLUICE_BENCH_QUICK="0")
    path = os.path.join(BENCH_PKG, "Thresholds")
    command = ["swift", "package", "--package-path", BENCH_PKG, "--disable-sandbox",
               "--allow-writing-to-package-directory", "benchmark", "thresholds", "update", "--target", "SluiceMicro",
               "--no-progress", "--path", path, "--benchmark-build-configuration", "release"]
    subprocess.run(command, cwd=BENCH_PKG, env=env, check=True)
    for name in os.listdir(path):
        if name.endswith(".p90.json"):
            full = os.path.join(path, name)
            with open(full) as f:
                values = json.load(f)
            with open(full, "w") as f:
                json.dump({k: v for k, v in values.items() if k == "mallocCountTotal"}, f, indent=2, sort_keys=True)
                f.write("\n")
    print("updated %s" % path)


# MARK: memory

def clickhouse_query(url, sql):
    request = urllib.request.Request(url + "/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read().decode()


def memory_files(quick):
    """The files `memory` and `load` use (gen_data.py memory), generated once and cached: (directory, manifest)."""
    out = os.path.join(DATA, "memory-v1-" + ("quick" if quick else "full"))
    if not os.path.exists(os.path.join(out, "manifest.json")):
        log("generating data in %s" % out)
        subprocess.run([sys.executable, os.path.join(LIB, "gen_data.py"), "memory", out] + (["--quick"] if quick else []),
                       check=True)
    with open(os.path.join(out, "manifest.json")) as f:
        return out, json.load(f)


def bench_memory(quick):
    """Peak RSS of `sluice load --file` (max RSS from /usr/bin/time -v) into ClickHouse 18.16, per file size."""
    if not loader_available():
        print("\nmemory: the loader is not in this build (`sluice load --help` does not describe `sluice load`); "
              "skipped")
        return
    if not os.path.exists("/usr/bin/time"):
        print("\nmemory: /usr/bin/time is not installed (apt-get install time); skipped")
        return
    out, manifest = memory_files(quick)
    binary = sluice_binary()
    work = tempfile.mkdtemp(prefix="memory-", dir=DATA)
    ch = os.path.join(work, "ch18")
    log("memory: starting ClickHouse 18.16")
    started = subprocess.run([os.path.join(ROOT, "scripts", "servers", "ch18.sh"), "start", ch],
                             stdout=subprocess.PIPE, text=True)
    if started.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit("ClickHouse 18.16 did not start")
    url = "http://127.0.0.1:%s" % started.stdout.strip().splitlines()[-1]
    rows = []
    baseline = None
    try:
        clickhouse_query(url, "CREATE DATABASE IF NOT EXISTS bench")
        config = os.path.join(work, "sluice.yaml")
        with open(config, "w") as f:
            f.write("clickhouse:\n  url: %s\nintake:\n  bucket: bench\nlog:\n  level: error\n" % url)
        for entry in manifest["files"]:
            target = "bench.mem_%d" % (entry["file_bytes"] // 1_000_000)
            clickhouse_query(url, "DROP TABLE IF EXISTS %s" % target)
            clickhouse_query(url, "CREATE TABLE %s (id Int64, qty Int32, price Float64, name String) "
                                  "ENGINE = MergeTree ORDER BY id" % target)
            env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
            result = subprocess.run(["/usr/bin/time", "-v", binary, "load", "--file", os.path.join(out, entry["file"]),
                                     "--table", target, "--config", config], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env)
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
            rss = int(m.group(1)) * 1024 if m else None
            try:
                summary = json.loads(result.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                summary = {"status": "no summary", "error": result.stderr.strip()[-300:]}
            count = clickhouse_query(url, "SELECT count() FROM %s" % target).strip()
            bound = 64e6 + 2 * entry["largest_row_group_bytes"]
            if baseline is None and rss:
                baseline = rss
            rows.append([entry["file"], "%.0f" % (entry["file_bytes"] / 1e6), str(entry["row_groups"]),
                         "%.1f" % (entry["largest_row_group_bytes"] / 1e6),
                         "%.0f" % (rss / 1e6) if rss else "-", "%.0f" % (bound / 1e6),
                         ("%.2f" % (rss / bound)) if rss else "-",
                         fmt_ratio(rss / baseline) if rss and baseline else "-",
                         "%s, %s rows in table" % (summary.get("status"), count)])
            if summary.get("status") != "loaded":
                print("  %s: %s" % (entry["file"], summary.get("error") or summary))
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "servers", "ch18.sh"), "stop", ch], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    table("memory: peak RSS of sluice load --file into ClickHouse 18.16",
          ["file", "MB", "row groups", "largest RG MB", "peak RSS MB", "goal MB", "RSS / goal", "vs smallest", "result"],
          rows,
          ["  goal: peak RSS <= 64 MB + 2 x the largest row group (its uncompressed size from the footer), flat in "
           "file size; 'vs smallest' is the in-run baseline (the smallest file's peak RSS)",
           "  max RSS from /usr/bin/time -v; one run per file (the figure is memory, not time)"])


# MARK: load

def start_clickhouse(kind, directory):
    """Starts ClickHouse 18.16 (`ch18`) or 26.9 (`chdb`) with scripts/servers; returns the HTTP URL."""
    started = subprocess.run([os.path.join(ROOT, "scripts", "servers", kind + ".sh"), "start", directory],
                             stdout=subprocess.PIPE, text=True)
    if started.returncode != 0:
        raise SystemExit("ClickHouse (%s) did not start" % kind)
    return "http://127.0.0.1:%s" % started.stdout.strip().splitlines()[-1]


def stop_clickhouse(kind, directory):
    subprocess.run([os.path.join(ROOT, "scripts", "servers", kind + ".sh"), "stop", directory],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def python_loader(kind, url, directory, target, path):
    """The baseline, written the way a user writes a Lambda: pyarrow reads the file, the usual Python client
    inserts it (clickhouse-driver over the native protocol for 18.16, clickhouse-connect's insert_arrow for 26.9)."""
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    database, name = target.split(".")
    if kind == "ch18":
        from clickhouse_driver import Client
        with open(os.path.join(directory, "tcp_port")) as f:
            client = Client("127.0.0.1", port=int(f.read().strip()))
        client.execute("INSERT INTO %s (%s) VALUES" % (target, ", ".join(table.column_names)),
                       [column.to_pylist() for column in table.columns], columnar=True)
        client.disconnect()
    else:
        import clickhouse_connect
        port = int(url.rsplit(":", 1)[1])
        client = clickhouse_connect.get_client(host="127.0.0.1", port=port, database=database)
        client.insert_arrow(name, table)
        client.close()


def bench_load(quick):
    """`sluice load --file` against the Python baseline, into ClickHouse 18.16 and 26.9, same file, same run."""
    if not loader_available():
        print("\nload: the loader is not in this build (`sluice load --help` does not describe `sluice load`); "
              "skipped")
        return
    out, manifest = memory_files(quick)
    # The 50 MB file in full runs (the 500 MB one is for the memory benchmark), the 5 MB one with --quick.
    entry = [e for e in manifest["files"] if e["file_bytes"] < 100e6][-1]
    path = os.path.join(out, entry["file"])
    reps = 2 if quick else 3
    binary = sluice_binary()
    work = tempfile.mkdtemp(prefix="load-", dir=DATA)
    rows = []
    try:
        for kind, label in (("ch18", "ClickHouse 18.16"), ("chdb", "ClickHouse 26.9")):
            directory = os.path.join(work, kind)
            log("load: starting %s" % label)
            url = start_clickhouse(kind, directory)
            try:
                clickhouse_query(url, "CREATE DATABASE IF NOT EXISTS bench")
                config = os.path.join(work, kind + ".yaml")
                with open(config, "w") as f:
                    f.write("clickhouse:\n  url: %s\nintake:\n  bucket: bench\nlog:\n  level: error\n" % url)
                times = {"sluice": [], "python": []}
                failures = []
                for rep in range(reps + 1):  # the first round is the warm-up
                    for who in ("sluice", "python"):
                        target = "bench.load_%s_%d" % (who, rep)
                        clickhouse_query(url, "DROP TABLE IF EXISTS %s" % target)
                        clickhouse_query(url, "CREATE TABLE %s (id Int64, qty Int32, price Float64, name String) "
                                              "ENGINE = MergeTree ORDER BY id" % target)
                        start = time.perf_counter()
                        if who == "sluice":
                            env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
                            result = subprocess.run([binary, "load", "--file", path, "--table", target, "--config",
                                                     config], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                    text=True, env=env)
                            if result.returncode != 0:
                                failures.append(result.stderr.strip()[-300:])
                        else:
                            python_loader(kind, url, directory, target, path)
                        elapsed = time.perf_counter() - start
                        count = int(clickhouse_query(url, "SELECT count() FROM %s" % target).strip() or 0)
                        if count != entry["rows"]:
                            failures.append("%s loaded %d of %d rows" % (who, count, entry["rows"]))
                        clickhouse_query(url, "DROP TABLE IF EXISTS %s" % target)
                        if rep > 0:
                            times[who].append(elapsed)
                s_rate = [entry["rows"] / t for t in times["sluice"]]
                p_rate = [entry["rows"] / t for t in times["python"]]
                mb = entry["file_bytes"] / 1e6
                rows.append([label, "sluice load --file", fmt_rate(median(s_rate), spread(s_rate)),
                             fmt_rate(mb / median(times["sluice"])),
                             fmt_ratio(median(s_rate) / median(p_rate)), "; ".join(sorted(set(failures)))[:120] or "-"])
                rows.append([label, "Python (pyarrow + %s)" % ("clickhouse-driver" if kind == "ch18" else
                                                                 "clickhouse-connect"),
                             fmt_rate(median(p_rate), spread(p_rate)), fmt_rate(mb / median(times["python"])), "1.00x",
                             "-"])
            finally:
                stop_clickhouse(kind, directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table("load: %s (%.0f MB, %d rows, 4 columns) from a local file" % (entry["file"], entry["file_bytes"] / 1e6,
                                                                       entry["rows"]),
          ["server", "loader", "rows/s", "file MB/s", "vs Python", "problems"], rows,
          ["  wall time of the whole load (process start, read, decode, insert, commit) for sluice; read_table + insert "
           "for Python; median of %d after a warm-up; ±: half the min-max range" % reps,
           "  ClickHouse 26.9 is chdb-core behind scripts/servers/chdb_http_server.py (HTTP only), the same for both "
           "loaders; S3 (moto) is not in the path yet"])


# MARK: e2e

def e2e_files(quick):
    """Small Parquet files of the load benchmark's shape, generated once and cached: (paths, rows per file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    count, rows = (6, 20_000) if quick else (24, 100_000)
    out = os.path.join(DATA, "e2e-v1-%s" % ("quick" if quick else "full"))
    paths = [os.path.join(out, "part-%03d.parquet" % i) for i in range(count)]
    if not all(os.path.exists(p) for p in paths):
        os.makedirs(out, exist_ok=True)
        for i, path in enumerate(paths):
            base = i * rows
            table = pa.table({
                "id": pa.array(range(base, base + rows), pa.int64()),
                "qty": pa.array([(n * 7) % 1000 for n in range(rows)], pa.int32()),
                "price": pa.array([n * 0.25 for n in range(rows)], pa.float64()),
                "name": pa.array(["item-%d" % (n % 5000) for n in range(rows)], pa.string()),
            })
            pq.write_table(table, path + ".tmp", compression="snappy")
            os.replace(path + ".tmp", path)
    return paths, rows


def http_json(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode() or "{}")


def bench_e2e(quick):
    """S3 event to rows in ClickHouse: N files uploaded to moto, one EventBridge event each posted to a `sluice serve`
    that runs its loaders, until every file is loaded; against the same files loaded one after another by the
    Python baseline (boto3 get_object + pyarrow + the usual client)."""
    if not loader_available():
        print("\ne2e: the loader is not in this build; skipped")
        return
    import boto3
    paths, rows_per_file = e2e_files(quick)
    total_rows = rows_per_file * len(paths)
    reps = 1 if quick else 3
    binary = sluice_binary()
    work = tempfile.mkdtemp(prefix="e2e-", dir=DATA)
    bucket = "bench-e2e-curated"
    rows = []
    moto_dir = os.path.join(work, "moto")
    started = subprocess.run([os.path.join(ROOT, "scripts", "servers", "moto.sh"), "start", moto_dir],
                             stdout=subprocess.PIPE, text=True)
    if started.returncode != 0:
        raise SystemExit("moto did not start")
    s3_url = "http://127.0.0.1:%s" % started.stdout.strip().splitlines()[-1]
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    s3.create_bucket(Bucket=bucket)
    try:
        for kind, label in (("ch18", "ClickHouse 18.16"), ("chdb", "ClickHouse 26.9")):
            directory = os.path.join(work, kind)
            log("e2e: starting %s" % label)
            url = start_clickhouse(kind, directory)
            server = None
            try:
                clickhouse_query(url, "CREATE DATABASE IF NOT EXISTS market")
                config = os.path.join(work, kind + ".yaml")
                with open(config, "w") as f:
                    f.write("http:\n  host: 127.0.0.1\n  port: 0\n  drain_seconds: 0\nintake:\n  bucket: %s\n"
                            "journal:\n  path: %s\nclickhouse:\n  url: %s\ns3:\n  endpoint: %s\n  path_style: true\n"
                            "loader:\n  workers: 2\n  batch_wait_s: 0\nlog:\n  level: notice\n  format: json\n"
                            % (bucket, os.path.join(work, kind + "-journal.db"), url, s3_url))
                env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
                env.update(credentials)
                log_path = os.path.join(work, kind + "-sluice.log")
                process = subprocess.Popen([binary, "serve", "--config", config], stdout=open(log_path, "w"),
                                           stderr=subprocess.STDOUT, env=env)
                server = process
                port = None
                deadline = time.time() + 60
                while time.time() < deadline and port is None:
                    m = re.search(r'"msg":"listening".*?"port":"(\d+)"', open(log_path).read())
                    port = int(m.group(1)) if m else None
                    if process.poll() is not None:
                        raise SystemExit("sluice serve exited: " + open(log_path).read()[-2000:])
                    time.sleep(0.05)
                if port is None:
                    raise SystemExit("sluice serve did not report its port")
                sluice_url = "http://127.0.0.1:%d" % port
                times = {"sluice": [], "python": []}
                failures = []
                for rep in range(reps + 1):  # the first round is the warm-up
                    for who in ("sluice", "python"):
                        table_name = "e2e_%s_%s_%d" % (kind, who, rep)
                        target = "market." + table_name
                        clickhouse_query(url, "DROP TABLE IF EXISTS %s" % target)
                        clickhouse_query(url, "CREATE TABLE %s (id Int64, qty Int32, price Float64, name String) "
                                              "ENGINE = MergeTree ORDER BY id" % target)
                        keys = []
                        for i, path in enumerate(paths):
                            key = "market/%s/ds=2025-09-10/part-%03d.parquet" % (table_name, i)
                            with open(path, "rb") as f:
                                put = s3.put_object(Bucket=bucket, Key=key, Body=f.read())
                            keys.append((key, os.path.getsize(path), put["ETag"].strip('"')))
                        start = time.perf_counter()
                        if who == "sluice":
                            for key, size, etag in keys:
                                http_json("POST", sluice_url + "/v1/events", {
                                    "version": "0", "id": "e2e-%s-%d-%s" % (kind, rep, key.rsplit("-", 1)[1]),
                                    "detail-type": "Object Created", "source": "aws.s3",
                                    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "resources": ["arn:aws:s3:::" + bucket],
                                    "detail": {"version": "0", "bucket": {"name": bucket},
                                               "object": {"key": key, "size": size, "etag": etag},
                                               "reason": "PutObject"}})
                            deadline = time.time() + (120 if quick else 600)
                            while time.time() < deadline:
                                listing = http_json("GET", sluice_url + "/v1/loads?table=%s&limit=1000" % target)
                                states = [e.get("status") for e in listing.get("loads", [])]
                                if len(states) == len(keys) and all(s in ("loaded", "dead_lettered") for s in states):
                                    break
                                time.sleep(0.02)
                            if states.count("loaded") != len(keys):
                                failures.append("sluice: %d of %d loaded" % (states.count("loaded"), len(keys)))
                        else:
                            python_e2e(kind, url, directory, target, s3, bucket, [k for k, _, _ in keys])
                        elapsed = time.perf_counter() - start
                        count = int(clickhouse_query(url, "SELECT count() FROM %s" % target).strip() or 0)
                        if count != total_rows:
                            failures.append("%s: %d of %d rows" % (who, count, total_rows))
                        clickhouse_query(url, "DROP TABLE IF EXISTS %s" % target)
                        if rep > 0 or reps == 0:
                            times[who].append(elapsed)
                s_rate = [len(paths) / t for t in times["sluice"]]
                p_rate = [len(paths) / t for t in times["python"]]
                rows.append([label, "sluice serve (2 workers)", fmt_rate(median(s_rate), spread(s_rate)),
                             fmt_rate(total_rows / median(times["sluice"])),
                             fmt_ratio(median(s_rate) / median(p_rate)), "; ".join(sorted(set(failures)))[:120] or "-"])
                rows.append([label, "Python, one file after another (boto3 + pyarrow + %s)" % (
                    "clickhouse-driver" if kind == "ch18" else "clickhouse-connect"),
                             fmt_rate(median(p_rate), spread(p_rate)), fmt_rate(total_rows / median(times["python"])),
                             "1.00x", "-"])
            finally:
                if server is not None and server.poll() is None:
                    server.send_signal(signal.SIGTERM)
                    try:
                        server.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        server.kill()
                stop_clickhouse(kind, directory)
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "servers", "moto.sh"), "stop", moto_dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    table("e2e: %d files x %d rows, S3 (moto) event to rows in ClickHouse" % (len(paths), rows_per_file),
          ["server", "loader", "files/s", "rows/s", "vs Python", "problems"], rows,
          ["  sluice: from the first POST /v1/events to every entry loaded (GET /v1/loads), the exactly-once staged "
           "protocol included; Python: get_object + read_table + insert per file, sequentially; median of %d after "
           "a warm-up; ±: half the min-max range" % reps])


def python_e2e(kind, url, directory, target, s3, bucket, keys):
    """The baseline Lambda body, once per file: fetch from S3, decode with pyarrow, insert with the usual client."""
    import io
    import pyarrow.parquet as pq
    database, name = target.split(".")
    if kind == "ch18":
        from clickhouse_driver import Client
        with open(os.path.join(directory, "tcp_port")) as f:
            client = Client("127.0.0.1", port=int(f.read().strip()))
    else:
        import clickhouse_connect
        client = clickhouse_connect.get_client(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]), database=database)
    try:
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            if kind == "ch18":
                client.execute("INSERT INTO %s (%s) VALUES" % (target, ", ".join(table.column_names)),
                               [column.to_pylist() for column in table.columns], columnar=True)
            else:
                client.insert_arrow(name, table)
    finally:
        if kind == "ch18":
            client.disconnect()
        else:
            client.close()


def main(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0
    options = [a for a in argv if a.startswith("-")]
    if any(o not in ("--quick", "--update-thresholds") for o in options):
        print("bench: unknown option %s\n%s" % (", ".join(o for o in options if o not in ("--quick", "--update-thresholds")), __doc__),
              file=sys.stderr)
        return 2
    quick = "--quick" in argv
    if "--update-thresholds" in argv:
        update_thresholds()
        return 0
    chosen = [a for a in argv if not a.startswith("-")] or ["all"]
    unknown = [a for a in chosen if a not in ALL + ["all"]]
    if unknown:
        print(__doc__, file=sys.stderr)
        return 2
    if "all" in chosen:
        chosen = ALL
    started = time.time()
    print("Sluice benchmarks (%s%s), %s" % (CONFIG, ", quick" if quick else "", machine_summary()))
    print("date %s, commit %s" % (time.strftime("%Y-%m-%d %H:%M:%S %Z"), git_commit()))
    broken = []
    for name in chosen:
        began = time.time()
        try:
            if name == "intake":
                bench_intake(quick)
            elif name == "decode":
                bench_decode(quick)
            elif name == "micro":
                bench_micro(quick)
            elif name == "memory":
                bench_memory(quick)
            elif name == "load":
                bench_load(quick)
            elif name == "e2e":
                bench_e2e(quick)
        except (SystemExit, Exception) as error:  # the harness broke, not a figure: report it, go on
            print("\n%s: the benchmark could not run: %s" % (name, error))
            broken.append(name)
        log("%s took %.0f s" % (name, time.time() - began))
    print("\nall benchmarks done in %.0f s (load average now %s)" %
          (time.time() - started, " ".join("%.2f" % x for x in os.getloadavg())))
    if broken:
        print("the harness could not run: %s" % ", ".join(broken))
        return 1
    return 0


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
