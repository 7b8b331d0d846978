"""Scenarios that need the loader running inside `sluice serve` (loader.*, clickhouse.*, s3.*, sqs.* keys).

Until `sluice serve` runs the loader, each reports `SKIP <scenario> loader not wired`: a probe manual load
(`POST /v1/loads?wait=true`) against real servers never finishes."""
from __future__ import annotations

import base64
import datetime
import json
import os
import random
import signal
import threading
import time

from data import Dataset, parquet_bytes
from harness import BUCKET, Fail, HTTPShim, Proxy, Skip, log, object_event, percentile, wait_for

from . import scenario
from .intake import fmt_statuses, statuses

TERMINAL = ("loaded", "dead_lettered")


def servers_for(ctx, quick_version="26"):
    """The ClickHouse versions a scenario runs against: one in --quick, both otherwise."""
    return [quick_version] if ctx.quick else ["18", "26"]


def loader_sluice(ctx, name, clickhouse, s3_endpoint, config=None, **kwargs):
    """`sluice serve` with the loader on, loading into `clickhouse` as the sentinel-password user."""
    s = ctx.sentinels
    clickhouse.ensure_user(s.ch_user, s.ch_password)
    base = {
        "loader": {"workers": 2, "poll_interval_ms": 50, "batch_wait_s": 0, "shutdown_grace_s": 5},
        "clickhouse": {"url": clickhouse.url, "user": s.ch_user},
        "s3": {"endpoint": s3_endpoint, "path_style": True},
        "domains": {"chaos": {"prefix": "chaos/", "database": "chaos", "priority": "high", "batch_min": 1, "batch_max": 10}},
    }
    from harness import merge
    env = dict(kwargs.pop("env", {}) or {})
    env["SLUICE_CLICKHOUSE_PASSWORD"] = s.ch_password
    return ctx.sluice(name, merge(base, config or {}), env=env, **kwargs)


def require_loader(ctx):
    """Skips the scenario unless `sluice serve` loads files (checked once per run)."""
    cache = ctx.suite.cache
    if "loader" not in cache:
        cache["loader"] = probe_loader(ctx)
    if cache["loader"] is not True:
        raise Skip(cache["loader"])


def probe_loader(ctx):
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    data = Dataset(ctx, clickhouse, moto, "probe", 1)
    sluice = loader_sluice(ctx, "probe", clickhouse, moto.endpoint)
    try:
        sluice.start()
    except Fail as failure:
        return "loader not wired (sluice serve refuses the loader configuration: %s)" % str(failure)[-160:]
    r = sluice.request("POST", "/v1/loads?wait=true&timeout_s=20", {"bucket": BUCKET, "key": data.keys[0]}, timeout=40)
    sluice.stop()
    body = r.json() or {}
    if r.status == 200 and body.get("status") == "loaded":
        return True
    if r.status == 202 and body.get("status") in ("queued", "loading", "retrying"):
        return "loader not wired (a manual load stayed %s for 20 s)" % body.get("status")
    return "loader not wired or failing (probe load answered %d %s)" % (r.status, r.body[:160])


def post_all(sluice, events, concurrency=4):
    from .intake import post_many
    results = post_many(sluice, events, concurrency=concurrency)
    counts = statuses(results)
    if counts.get(202, 0) != len(events):
        raise Fail("intake answered %s for %d events" % (fmt_statuses(counts), len(events)))
    return results


def wait_terminal(sluice, ids, timeout, what="loads to finish"):
    """Waits until every correlation id is loaded or dead-lettered (read from the journal file)."""
    ids = set(ids)

    def done():
        rows = sluice.entries("state IN ('loaded','dead_lettered')")
        finished = {r["correlation_id"]: r for r in rows if r["correlation_id"] in ids}
        return finished if len(finished) == len(ids) else None
    try:
        return wait_for(done, timeout, 0.5, what)
    except Fail:
        rows = {r["correlation_id"]: r["state"] for r in sluice.entries()}
        pending = [rows.get(i, "missing") for i in ids if rows.get(i) not in TERMINAL]
        counts = {}
        for state in pending:
            counts[state] = counts.get(state, 0) + 1
        raise Fail("%d of %d entries not finished after %d s (%s)" % (len(pending), len(ids), timeout, counts))


def history(sluice, correlation_id):
    r = sluice.request("GET", "/v1/loads/%s" % correlation_id)
    if r.status != 200:
        raise Fail("GET /v1/loads/%s answered %d" % (correlation_id, r.status))
    return r.json()


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def schedule(entry):
    """Failed attempts and the waits between a failure and the next claim (or the dead-lettering)."""
    events = [(parse_time(h["at"]), h["event"], h.get("code")) for h in entry.get("history", [])]
    waits = []
    fails = 0
    last_fail = None
    for at, event, _ in events:
        if event in ("fail_retryable", "fail_permanent"):
            fails += 1
            last_fail = at
        elif event in ("claim",) and last_fail is not None:
            waits.append(at - last_fail)
            last_fail = None
    if last_fail is not None and entry.get("status") == "dead_lettered":
        dead = [at for at, event, _ in events if event == "fail_permanent"]
        retry_fail = [at for at, event, _ in events if event == "fail_retryable"]
        if dead and retry_fail and dead[-1] > retry_fail[-1]:
            waits.append(dead[-1] - retry_fail[-1])
    return fails, waits


def check_schedule(entry, attempts, backoff, code, label):
    """`attempts` failed attempts, waits close to `backoff`, dead-lettered with `code`."""
    fails, waits = schedule(entry)
    wait_text = "waits %s s" % "/".join("%.1f" % w for w in waits) if waits else "no wait"
    figures = "%s: %d attempt(s), %s, %s %s" % (label, entry.get("attempts", 0), wait_text, entry.get("status"),
                                                entry.get("last_error_code"))
    if entry.get("status") != "dead_lettered" or entry.get("last_error_code") != code:
        raise Fail("%s: expected dead-lettered with %s; %s" % (label, code, figures))
    if entry.get("attempts") != attempts:
        raise Fail("%s: expected %d attempts; %s" % (label, attempts, figures))
    if backoff:
        if len(waits) != len(backoff) or any(abs(w - b) > max(1.0, b * 0.35) for w, b in zip(waits, backoff)):
            raise Fail("%s: expected waits %s s; %s" % (label, "/".join(str(b) for b in backoff), figures))
    return figures


# MARK: exactly once under crashes

@scenario("crash-backlog", quick=True,
          summary="events 202'd while ClickHouse is paused, kill -9, resume, restart: every file loaded exactly once")
def crash_backlog(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    n = 100 if ctx.quick else 500
    figures = []
    for version in servers_for(ctx, "18"):
        clickhouse = ctx.servers.clickhouse(version)
        data = Dataset(ctx, clickhouse, moto, "backlog%s" % version, n)
        sluice = loader_sluice(ctx, "backlog%s" % version, clickhouse, moto.endpoint, {"loader": {"workers": 4}})
        sluice.start()
        clickhouse.pause()
        ctx.cleanup.append(clickhouse.resume)
        try:
            events = [data.event(k) for k in data.keys]
            post_all(sluice, events, concurrency=8)
            time.sleep(3)
            loading = len(sluice.entries("state = 'loading'"))
            sluice.kill9()
        finally:
            clickhouse.resume()
        sluice.start()
        started = time.monotonic()
        wait_terminal(sluice, [e["id"] for e in events], 600 if not ctx.quick else 240)
        elapsed = time.monotonic() - started
        dead = sluice.entries("state = 'dead_lettered'")
        if dead:
            raise Fail("%d dead-lettered after the restart (e.g. %s: %s)" % (len(dead), dead[0]["last_error_code"], dead[0]["last_error_message"]))
        result = data.check_exactly_once(data.keys)
        stages = len(data.staging_tables())
        sluice.stop()
        figures.append("ClickHouse %s: %d x 202 while paused, %d loading at kill -9; after restart %s in %.0f s; %d staging tables left" % (
            clickhouse.version(), n, loading, result, elapsed, stages))
    return "; ".join(figures)


@scenario("ambiguous-insert", quick=True,
          summary="the commit ALTER is applied but its reply never arrives (proxy black hole), kill -9: still exactly once")
def ambiguous_insert(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    figures = []
    versions = ["18", "26"]
    for version in versions:
        clickhouse = ctx.servers.clickhouse(version)
        data = Dataset(ctx, clickhouse, moto, "ambiguous%s" % version, 5)
        proxy = Proxy(ctx, clickhouse.port, name="ch-proxy-%s" % version)
        via = fronted(ctx, clickhouse, proxy.port)
        sluice = loader_sluice(ctx, "ambiguous%s" % version, via, moto.endpoint,
                               {"domains": {"chaos": {"batch_min": 5, "batch_max": 10}}, "loader": {"batch_wait_s": 2}})
        sluice.start()
        proxy.rule(fault="blackhole_reply", match=r"(MOVE|ATTACH)\s+PARTITION|(MOVE|ATTACH)(%20|\+)PARTITION", times=1)
        events = [data.event(k) for k in data.keys]
        post_all(sluice, events)
        wait_for(lambda: proxy.state()["stats"]["armed"] >= 1, 120, 0.2, "the commit ALTER to reach the proxy")
        applied = wait_for(lambda: sum(data.counts().values()) or None, 20, 0.2, "the ALTER to apply on the server")
        sluice.kill9()
        proxy.reset()
        proxy.drop()
        sluice.start()
        wait_terminal(sluice, [e["id"] for e in events], 180)
        dead = sluice.entries("state = 'dead_lettered'")
        result = data.check_exactly_once(data.keys) if not dead else None
        sluice.stop()
        if dead:
            # An ambiguous verdict stops the load for a person; rows must then not be doubled either.
            counts = data.counts()
            if any(v != data.rows for v in counts.values()):
                raise Fail("dead-lettered (%s) and the table holds wrong counts %s" % (dead[0]["last_error_message"], counts))
            result = "stopped as ambiguous for manual review (%d dead letters, no duplicate rows)" % len(dead)
        figures.append("ClickHouse %s: %d rows applied while the reply was swallowed, killed, restarted: %s" % (
            clickhouse.version(), applied, result))
    return "; ".join(figures)


@scenario("kill-loop", quick=True,
          summary="kill -9 at random moments during an event stream: every 2xx'd event loaded exactly once")
def kill_loop(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    n = 300 if ctx.quick else 2000
    kills = 5 if ctx.quick else 20
    clickhouse = ctx.servers.clickhouse("26" if ctx.quick else "18")
    data = Dataset(ctx, clickhouse, moto, "killloop", n)
    sluice = loader_sluice(ctx, "killloop", clickhouse, moto.endpoint, {"loader": {"workers": 4}})
    sluice.start()
    events = [data.event(k) for k in data.keys]
    acked = {}
    lock = threading.Lock()
    done = threading.Event()
    rng = random.Random(5)

    def stream():
        pending = list(events)
        client = None
        while pending:
            event = pending[0]
            if client is None:
                url = sluice.url
                from harness import Client
                client = Client(url, sluice.headers(), ctx.transcript, timeout=10)
            try:
                r = client.request("POST", "/v1/events", event)
            except OSError:
                client.close()
                client = None
                time.sleep(0.1)
                continue
            if r.status in (200, 202):
                with lock:
                    acked[event["id"]] = r.status
                pending.pop(0)
            else:
                time.sleep(0.1)
        done.set()

    thread = threading.Thread(target=stream)
    thread.start()
    killed = 0
    loaded_at_kills = []
    while killed < kills:
        time.sleep(rng.uniform(0.3, 2.5))
        sluice.kill9()
        killed += 1
        try:
            loaded_at_kills.append(len(sluice.entries("state = 'loaded'")))
        except Exception:  # noqa: BLE001 - the count is a figure only
            pass
        sluice.start()
    thread.join(timeout=600)
    if not done.is_set():
        raise Fail("the event stream did not finish")
    wait_terminal(sluice, list(acked), 600)
    dead = sluice.entries("state = 'dead_lettered'")
    if dead:
        raise Fail("%d dead-lettered (e.g. %s: %s)" % (len(dead), dead[0]["last_error_code"], dead[0]["last_error_message"]))
    result = data.check_exactly_once(data.keys)
    sluice.stop()
    return "ClickHouse %s: %d x kill -9 during %d events (%d acknowledged, %d of them 200 duplicate after a lost answer); %s" % (
        clickhouse.version(), killed, n, len(acked), sum(1 for s in acked.values() if s == 200), result)


@scenario("sigterm-loads", quick=False,
          summary="SIGTERM while loads run: they finish or are parked, exit 0, all loaded exactly once after restart")
def sigterm_loads(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    data = Dataset(ctx, clickhouse, moto, "termloads", 40)
    proxy = Proxy(ctx, clickhouse.port, name="ch-proxy")
    via = fronted(ctx, clickhouse, proxy.port)
    sluice = loader_sluice(ctx, "termloads", via, moto.endpoint, {"loader": {"workers": 4, "shutdown_grace_s": 2},
                                                                    "domains": {"chaos": {"batch_max": 2}}})
    sluice.start()
    proxy.rule(latency_ms=1500, latency_direction="down", match=r"INSERT")
    events = [data.event(k) for k in data.keys]
    post_all(sluice, events)
    wait_for(lambda: len(sluice.entries("state = 'loading'")) > 0, 60, 0.1, "loads to start")
    loading = len(sluice.entries("state = 'loading'"))
    sluice.signal(signal.SIGTERM)
    code = sluice.wait(timeout=60)
    if code != 0:
        raise Fail("exit status %s after SIGTERM with loads running" % code)
    left = sluice.entries("state = 'loading'")
    if left:
        raise Fail("%d entries left in state loading after a clean exit" % len(left))
    parked = len(sluice.entries("state = 'queued'"))
    loaded = len(sluice.entries("state = 'loaded'"))
    proxy.reset()
    sluice.start()
    wait_terminal(sluice, [e["id"] for e in events], 240)
    result = data.check_exactly_once(data.keys)
    sluice.stop()
    return "%d loading at SIGTERM; exit 0 with %d loaded and %d parked as queued, none left loading; after restart %s" % (
        loading, loaded, parked, result)


# MARK: ClickHouse faults and the retry policy

def fault_case(ctx, label, version, make_fault, config=None, expect=None, table=None):
    """One file against a faulty ClickHouse; returns (sluice, data, entry with history)."""
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse(version)
    data = Dataset(ctx, clickhouse, moto, table or label.replace("-", "_"), 1)
    url_server = make_fault(clickhouse)
    sluice = loader_sluice(ctx, label, url_server, moto.endpoint, config)
    sluice.start()
    event = data.event(data.keys[0])
    post_all(sluice, [event])
    return sluice, data, event


def fronted(ctx, clickhouse, port):
    """The server seen through a proxy or shim on `port`; its sentinel user is set up on the server itself."""
    from harness import ClickHouse
    clickhouse.ensure_user(ctx.sentinels.ch_user, ctx.sentinels.ch_password)
    via = ClickHouse(clickhouse.name, clickhouse.directory, port)
    via.users = dict(clickhouse.users)
    return via


def proxied(ctx, clickhouse, name="ch-proxy", **rule):
    proxy = Proxy(ctx, clickhouse.port, name=name)
    if rule:
        proxy.rule(**rule)
    return proxy, fronted(ctx, clickhouse, proxy.port)


def shimmed(ctx, clickhouse, rules, name="ch-shim"):
    shim = HTTPShim(ctx, upstream=clickhouse.url, name=name)
    shim.rules(rules)
    return shim, fronted(ctx, clickhouse, shim.port)


def intake_while_failing(sluice, n=20):
    """Intake keeps answering 202 quickly while loads fail."""
    from .intake import post_many
    events = [object_event("chaos/other/x-%d-%s.parquet" % (i, random.getrandbits(32))) for i in range(n)]
    results = post_many(sluice, events, concurrency=4)
    counts = statuses(results)
    p99 = percentile([r["seconds"] for r in results], 99)
    if counts.get(202) != n or p99 > 1.0:
        raise Fail("intake while ClickHouse fails: %s, p99 %.0f ms" % (fmt_statuses(counts), p99 * 1000))
    health = sluice.request("GET", "/health")
    if health.status != 200:
        raise Fail("/health answered %d while ClickHouse fails" % health.status)
    return "intake %d x 202 (p99 %.0f ms), /health 200" % (n, p99 * 1000)


@scenario("ch-refused", quick=True,
          summary="ClickHouse refuses connections: 3 attempts, waits 2/4/8 s, then DLQ E004; intake keeps answering")
def ch_refused(ctx):
    require_loader(ctx)
    holder = {}

    def fault(clickhouse):
        proxy, via = proxied(ctx, clickhouse, fault="refuse")
        holder["proxy"] = proxy
        return via
    sluice, data, event = fault_case(ctx, "ch-refused", "26", fault)
    intake = intake_while_failing(sluice)
    wait_terminal(sluice, [event["id"]], 90)
    figures = check_schedule(history(sluice, event["id"]), 3, [2, 4, 8], "E004", "refused")
    rows = sum(data.counts().values())
    sluice.stop()
    if rows:
        raise Fail("%d rows in the table after a refused load" % rows)
    return figures + "; " + intake + "; 0 rows"


@scenario("ch-reset", quick=False,
          summary="the connection is reset in the middle of the insert body: retry schedule, DLQ E004, no partial rows")
def ch_reset(ctx):
    require_loader(ctx)
    figures = []
    for version in ("18", "26"):
        def fault(clickhouse):
            proxy, via = proxied(ctx, clickhouse, name="ch-proxy-%s" % version, fault="reset", after_bytes=3000,
                                 direction="up", match=r"INSERT")
            return via
        sluice, data, event = fault_case(ctx, "ch-reset-%s" % version, version, fault, table="reset%s" % version)
        wait_terminal(sluice, [event["id"]], 90)
        figures.append(check_schedule(history(sluice, event["id"]), 3, [2, 4, 8], "E004", "reset mid-body, ClickHouse %s" % version))
        rows = sum(data.counts().values())
        sluice.stop()
        if rows:
            raise Fail("%d rows in the target after inserts cut mid-body (ClickHouse %s)" % (rows, version))
    return "; ".join(figures) + "; 0 rows in the targets"


@scenario("ch-latency", quick=False,
          summary="ClickHouse answers 30 s late (request timeout 10 s): retry schedule then DLQ E004; intake keeps answering")
def ch_latency(ctx):
    require_loader(ctx)
    latency, timeout = (30000, 10) if not ctx.quick else (6000, 2)

    def fault(clickhouse):
        proxy, via = proxied(ctx, clickhouse, latency_ms=latency, latency_direction="down")
        return via
    sluice, data, event = fault_case(ctx, "ch-latency", "26", fault, {"clickhouse": {"request_timeout_s": timeout}})
    intake = intake_while_failing(sluice)
    wait_terminal(sluice, [event["id"]], 3 * (latency / 1000 + timeout) + 60)
    figures = check_schedule(history(sluice, event["id"]), 3, [2, 4, 8], "E004", "%d s latency, %d s timeout" % (latency // 1000, timeout))
    sluice.stop()
    return figures + "; " + intake


MEMORY_ERROR = ("Code: 241. DB::Exception: Memory limit (for query) exceeded: would use 9.31 GiB (attempt to allocate chunk "
                "of 4194304 bytes), maximum: 9.31 GiB. (MEMORY_LIMIT_EXCEEDED) (version 26.9.1.1)\n")


@scenario("ch-memory", quick=True,
          summary="ClickHouse memory error (code 241) on insert: 2 attempts, waits 5/10 s, then DLQ E006")
def ch_memory(ctx):
    require_loader(ctx)

    def fault(clickhouse):
        shim, via = shimmed(ctx, clickhouse, [{"match": r"(?s)^POST .*INSERT INTO", "action": "raw", "status": 500,
                                                "body": MEMORY_ERROR, "headers": {"X-ClickHouse-Exception-Code": "241"}}])
        return via
    sluice, data, event = fault_case(ctx, "ch-memory", "26", fault)
    wait_terminal(sluice, [event["id"]], 90)
    figures = check_schedule(history(sluice, event["id"]), 2, [5, 10], "E006", "memory 241")
    sluice.stop()
    return figures


@scenario("ch-no-retry", quick=True,
          summary="schema mismatch and permission errors: one attempt, straight to the DLQ")
def ch_no_retry(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    figures = []
    # Schema: the table's src column cannot hold the file's strings.
    data = Dataset(ctx, clickhouse, moto, "schema", 1)
    clickhouse.query("DROP TABLE chaos.schema")
    clickhouse.query("CREATE TABLE chaos.schema (id UInt64, src UInt64, v Float64, pad String) ENGINE = MergeTree() ORDER BY id")
    sluice = loader_sluice(ctx, "schema", clickhouse, moto.endpoint)
    sluice.start()
    event = data.event(data.keys[0])
    post_all(sluice, [event])
    wait_terminal(sluice, [event["id"]], 60)
    figures.append(check_schedule(history(sluice, event["id"]), 1, [], "E003", "schema mismatch"))
    sluice.stop()
    # Permission: a user that may only read.
    data = Dataset(ctx, clickhouse, moto, "permission", 1)
    sluice = ctx.sluice("permission", {
        "loader": {"workers": 1, "poll_interval_ms": 50, "batch_wait_s": 0},
        "clickhouse": {"url": clickhouse.url, "user": "limited"}, "s3": {"endpoint": moto.endpoint, "path_style": True}},
        env={"SLUICE_CLICKHOUSE_PASSWORD": "limited"})
    sluice.start()
    event = data.event(data.keys[0])
    post_all(sluice, [event])
    wait_terminal(sluice, [event["id"]], 60)
    figures.append(check_schedule(history(sluice, event["id"]), 1, [], "E005", "permission"))
    rows = sum(data.counts().values())
    sluice.stop()
    if rows:
        raise Fail("%d rows loaded by a read-only user" % rows)
    return "; ".join(figures)


STREAMED_EXCEPTION = {
    # 26.9 frames an exception raised after the response started with __exception__ lines and a random tag.
    "26": ("\r\n__exception__\r\nqwertyuiopasdfgh\r\nCode: 159. DB::Exception: Timeout exceeded: elapsed 300.1 seconds, "
           "maximum: 300. (TIMEOUT_EXCEEDED) (version 26.9.2.1)\n110 qwertyuiopasdfgh\r\n__exception__\r\n"),
    # 18.16 appends the exception as the last line.
    "18": "\nCode: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 300.1 seconds, maximum: 300, e.what() = DB::Exception\n",
}


@scenario("ch-exception-in-200", quick=True,
          summary="an exception inside a 200 response counts as a failure: retried, then loaded exactly once")
def ch_exception_in_200(ctx):
    require_loader(ctx)
    figures = []
    for version in ("18", "26"):
        def fault(clickhouse):
            shim, via = shimmed(ctx, clickhouse, [{"match": r"(?s)^POST .*INSERT INTO", "action": "forward_then", "times": 1,
                                                    "status": 200, "body": STREAMED_EXCEPTION[version]}], name="ch-shim-%s" % version)
            return via
        sluice, data, event = fault_case(ctx, "ch-exception-200-%s" % version, version, fault, table="exc200_%s" % version)
        wait_terminal(sluice, [event["id"]], 90)
        entry = history(sluice, event["id"])
        sluice.stop()
        if entry["status"] != "loaded":
            raise Fail("ClickHouse %s: expected loaded after a retry, got %s %s" % (version, entry["status"], entry.get("last_error")))
        if entry["attempts"] < 2:
            raise Fail("ClickHouse %s: an insert answered 200 with a streamed exception (%s form) was taken for success "
                       "(%d attempt, file marked loaded)" % (version, "__exception__" if version == "26" else "e.displayText()", entry["attempts"]))
        figures.append("ClickHouse %s form: counted as a failure (%s), attempts %d, %s" % (
            version, entry.get("last_error_code"), entry["attempts"], data.check_exactly_once(data.keys)))
    return "; ".join(figures)


# MARK: S3 faults

@scenario("s3-faults", quick=True,
          summary="NoSuchKey, AccessDenied, SlowDown/503, truncated body, object replaced mid-load: right category, no partial insert")
def s3_faults(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    data = Dataset(ctx, clickhouse, moto, "s3faults", 0)
    shim = HTTPShim(ctx, upstream=moto.endpoint, name="s3-shim")
    keys = {name: data.add(name + ".parquet") for name in ("denied", "slowdown", "slowdown_always", "truncated", "replaced")}
    missing = data.key("missing.parquet")
    replacement = parquet_bytes(keys["replaced"] + "#v2", data.rows)
    shim.rules([
        {"match": "GET /%s/%s" % (BUCKET, keys["denied"]), "action": "error", "status": 403, "code": "AccessDenied", "message": "Access Denied"},
        {"match": "/%s/%s" % (BUCKET, keys["slowdown"]), "action": "error", "status": 503, "code": "SlowDown", "message": "Please reduce your request rate.", "times": 2},
        {"match": "/%s/%s" % (BUCKET, keys["slowdown_always"]), "action": "error", "status": 503, "code": "SlowDown", "message": "Please reduce your request rate."},
        {"match": "GET /%s/%s" % (BUCKET, keys["truncated"]), "action": "truncate", "after_bytes": 100, "times": 1},
        {"match": "GET /%s/%s" % (BUCKET, keys["replaced"]), "action": "replace", "times": 1,
         "body_b64": base64.b64encode(replacement).decode()},
    ])
    sluice = loader_sluice(ctx, "s3faults", clickhouse, shim.endpoint, {"domains": {"chaos": {"batch_max": 1}}})
    sluice.start()
    events = {name: data.event(key) for name, key in keys.items()}
    events["missing"] = object_event(missing, size=5000)
    post_all(sluice, list(events.values()))
    wait_terminal(sluice, [e["id"] for e in events.values()], 180)
    entries = {name: history(sluice, e["id"]) for name, e in events.items()}
    expected = {"missing": ("dead_lettered", "E003", 1), "denied": ("dead_lettered", "E003", 1),
                "slowdown": ("loaded", None, None), "slowdown_always": ("dead_lettered", "E004", 3),
                "truncated": ("loaded", None, None), "replaced": ("dead_lettered", "E003", 1)}
    problems = []
    figures = []
    for name, (state, code, attempts) in expected.items():
        e = entries[name]
        figures.append("%s: %s %s after %d attempt(s)" % (name, e["status"], e.get("last_error_code") or "", e["attempts"]))
        if e["status"] != state or (code and e.get("last_error_code") != code) or (attempts and e["attempts"] != attempts):
            problems.append("%s: expected %s %s%s, got %s %s after %d attempts (%s)" % (
                name, state, code or "", " after %d attempts" % attempts if attempts else "", e["status"],
                e.get("last_error_code"), e["attempts"], (e.get("last_error") or "")[:120]))
    counts = data.counts()
    for name in ("denied", "slowdown_always", "replaced", "missing"):
        key = keys.get(name, missing)
        if counts.get(key) or counts.get(key + "#v2"):
            problems.append("%s: rows were inserted (%s)" % (name, counts.get(key) or counts.get(key + "#v2")))
    for name in ("slowdown", "truncated"):
        if counts.get(keys[name]) != data.rows:
            problems.append("%s: %s rows instead of %d" % (name, counts.get(keys[name]), data.rows))
    # The replacing version's own event loads the new content, once.
    head = moto.s3.head_object(Bucket=BUCKET, Key=keys["replaced"])
    second = object_event(keys["replaced"], size=head["ContentLength"], etag=head["ETag"].strip('"'))
    post_all(sluice, [second])
    wait_terminal(sluice, [second["id"]], 60)
    counts = data.counts()
    if counts.get(keys["replaced"] + "#v2") != data.rows or counts.get(keys["replaced"]):
        problems.append("replaced: the new version's event gave %s rows of v2 and %s of v1" % (
            counts.get(keys["replaced"] + "#v2"), counts.get(keys["replaced"])))
    else:
        figures.append("the new version's own event: loaded once")
    sluice.stop()
    if problems:
        raise Fail("; ".join(problems) + " || " + "; ".join(figures))
    return "; ".join(figures) + "; no rows from failed files, retried ones exactly once"


@scenario("bad-parquet", quick=True,
          summary="wrong magic, cut footer, oversized object: DLQ, no crash, oversize refused before download")
def bad_parquet(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("18")
    data = Dataset(ctx, clickhouse, moto, "badparquet", 0)
    good = parquet_bytes("x", data.rows)
    big = parquet_bytes("big", 2000)
    keys = {
        "magic": data.add("magic.parquet", bytes(random.Random(1).getrandbits(8) for _ in range(5000))),
        "footer": data.add("footer.parquet", good[:-120] + b"PAR1"),
        "truncated": data.add("truncated.parquet", good[: len(good) // 2]),
        "oversized": data.add("oversized.parquet", big),
        "good": data.add("good.parquet"),
    }
    shim = HTTPShim(ctx, upstream=moto.endpoint, name="s3-shim")
    sluice = loader_sluice(ctx, "badparquet", clickhouse, shim.endpoint,
                           {"s3": {"max_object_bytes": len(big) - 1}, "domains": {"chaos": {"batch_max": 1}}})
    sluice.start()
    events = {name: data.event(key) for name, key in keys.items()}
    post_all(sluice, list(events.values()))
    wait_terminal(sluice, [e["id"] for e in events.values()], 120)
    entries = {name: history(sluice, e["id"]) for name, e in events.items()}
    problems = []
    for name in ("magic", "footer", "truncated", "oversized"):
        e = entries[name]
        if e["status"] != "dead_lettered" or e["attempts"] != 1 or e.get("last_error_code") not in ("E002", "E003"):
            problems.append("%s: %s %s after %d attempts" % (name, e["status"], e.get("last_error_code"), e["attempts"]))
    if entries["oversized"].get("last_error_code") != "E002":
        problems.append("oversized: %s instead of E002" % entries["oversized"].get("last_error_code"))
    gets = [r for r in shim.requests() if r["method"] == "GET" and keys["oversized"] in r["path"]]
    if gets:
        problems.append("the oversized object was downloaded (%d GETs)" % len(gets))
    if entries["good"]["status"] != "loaded":
        problems.append("the good file next to them was not loaded: %s" % entries["good"]["status"])
    if not sluice.alive():
        problems.append("sluice died")
    counts = data.counts()
    if set(counts) - {keys["good"]}:
        problems.append("rows from bad files: %s" % counts)
    sluice.stop()
    figures = "; ".join("%s: %s %s" % (n, e["status"], e.get("last_error_code") or "") for n, e in entries.items())
    if problems:
        raise Fail("; ".join(problems) + " || " + figures)
    return figures + "; oversized: 0 GETs (HEAD only)"


# MARK: SQS

def sqs_queue(moto, name, max_receives=None):
    sqs = moto.sqs
    attributes = {}
    dlq_url = None
    if max_receives:
        dlq_url = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, dlq_url


def queue_counts(moto, url):
    a = moto.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def sqs_message(data, key):
    head = data.moto.s3.head_object(Bucket=BUCKET, Key=key)
    return json.dumps({"bucket": BUCKET, "key": key, "domain": "chaos", "table_name": data.table, "partition": "",
                       "file_size": head["ContentLength"], "correlation_id": "sqs-%s" % random.getrandbits(48)})


@scenario("sqs-visibility", quick=False,
          summary="SQS: a load longer than the visibility timeout keeps its message hidden; deleted only after the commit")
def sqs_visibility(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    data = Dataset(ctx, clickhouse, moto, "sqsvis", 1)
    url, _ = sqs_queue(moto, "chaos-vis-%d" % random.getrandbits(16))
    shim, via = shimmed(ctx, clickhouse, [{"match": r"(?s)^POST .*INSERT INTO", "action": "delay", "ms": 45000, "times": 1}])
    sluice = loader_sluice(ctx, "sqsvis", via, moto.endpoint, env={"AWS_ENDPOINT_URL_SQS": moto.endpoint}, config={
        "sqs": {"queue_urls": [url], "wait_time_s": 1, "visibility_timeout_s": 30, "extend_interval_s": 5},
        "clickhouse": {"request_timeout_s": 120}, "loader": {"processing_timeout_s": 300}})
    sluice.start()
    moto.sqs.send_message(QueueUrl=url, MessageBody=sqs_message(data, data.keys[0]))
    wait_for(lambda: any("INSERT" in r["path"] for r in shim.requests()), 60, 0.2, "the insert to start")
    visible_seen = 0
    hidden_seen = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 50:
        visible, hidden = queue_counts(moto, url)
        visible_seen = max(visible_seen, visible)
        hidden_seen = max(hidden_seen, hidden)
        if data.counts():
            break
        if visible or not hidden:
            raise Fail("the message became visible (%d) or vanished (%d hidden) %.0f s into a load, before its commit" % (visible, hidden, time.monotonic() - t0))
        time.sleep(1)
    wait_for(lambda: data.counts() or None, 120, 0.5, "the slow load to commit")
    wait_for(lambda: queue_counts(moto, url) == (0, 0), 60, 1, "the message to be deleted after the commit")
    result = data.check_exactly_once(data.keys)
    sluice.stop()
    return "a 45 s load with a 30 s visibility timeout: message hidden throughout (never visible), deleted after the commit; %s" % result


@scenario("sqs-replicas", quick=False,
          summary="SQS: two replicas on one queue; A commits files but cannot delete their messages, then is killed: "
                  "B receives them again, finds their rows by lineage, loads the rest; every file exactly once")
def sqs_replicas(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    n = 40
    data = Dataset(ctx, clickhouse, moto, "sqsrep", n, extra_columns="_source_key String, _source_etag String")
    url, _ = sqs_queue(moto, "chaos-rep-%d" % random.getrandbits(16))
    config = {"sqs": {"queue_urls": [url], "wait_time_s": 1, "visibility_timeout_s": 30, "extend_interval_s": 5, "max_messages": 2}}
    # Replica A reaches SQS through a shim that fails every DeleteMessageBatch: the widest form of "committed, then
    # killed before the delete", so each file A commits comes back to B as a redelivered message.
    shim = HTTPShim(ctx, upstream=moto.endpoint, name="sqs-shim")
    shim.rules([{"match": r'(?s)^POST [^\n]*\n.*"Entries"', "action": "raw", "status": 500,
                 "body": '{"__type":"com.amazonaws.sqs#InternalError","message":"chaos: delete refused"}',
                 "headers": {"Content-Type": "application/x-amz-json-1.0"}}])
    a = loader_sluice(ctx, "replica-a", clickhouse, moto.endpoint, config, env={"AWS_ENDPOINT_URL_SQS": shim.endpoint})
    b = loader_sluice(ctx, "replica-b", clickhouse, moto.endpoint, config, env={"AWS_ENDPOINT_URL_SQS": moto.endpoint})
    a.start()
    for key in data.keys:
        moto.sqs.send_message(QueueUrl=url, MessageBody=sqs_message(data, key))
    wait_for(lambda: len(a.entries("state = 'loaded'")) >= 5, 120, 0.1, "replica A to load some files")
    a.kill9()
    loaded_a = {e["object_key"] for e in a.entries("state = 'loaded'")}
    held_a = len(a.entries("state != 'loaded'"))
    b.start()
    refused = sum(1 for r in shim.requests() if r.get("rule") == "raw")
    wait_for(lambda: len(data.counts()) == n or None, 240, 1, "every file to be loaded")
    wait_for(lambda: queue_counts(moto, url) == (0, 0), 120, 1, "the queue to drain")
    found_b = {r["object_key"] for r in b.journal_rows("ledger", "load_id = 'found'")}
    inserted_b = {r["object_key"] for r in b.journal_rows("ledger", "load_id != 'found'")}
    result = data.check_exactly_once(data.keys)
    if loaded_a & inserted_b:
        raise Fail("%d files committed by A were inserted again by B" % len(loaded_a & inserted_b))
    missed = {k for k in loaded_a if k not in found_b}
    redelivered_b = len(b.entries("redelivered = 1"))
    b.stop()
    if missed:
        raise Fail("%d of the %d files A committed never came back to B as found in the table (%d redelivered to B)"
                   % (len(missed), len(loaded_a), redelivered_b))
    if len(found_b) + len(inserted_b) != n:
        # Every message reaches B in the end: each file is either found (A committed it, maybe just before the kill,
        # unrecorded in A's journal) or loaded by B.
        raise Fail("B found %d files and loaded %d, of %d" % (len(found_b), len(inserted_b), n))
    return ("replica A committed %d files (%d DeleteMessageBatch refused) and was killed holding %d more; B received %d "
            "messages again, found %d files in the table by lineage (all of A's) and loaded the other %d; %s" % (
                len(loaded_a), refused, held_a, redelivered_b, len(found_b), len(inserted_b), result))


@scenario("sqs-poison", quick=False,
          summary="SQS: a message that can never load goes to the queue's DLQ after max receives, never deleted early")
def sqs_poison(ctx):
    require_loader(ctx)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    data = Dataset(ctx, clickhouse, moto, "sqspoison", 1)
    url, dlq = sqs_queue(moto, "chaos-poison-%d" % random.getrandbits(16), max_receives=2)
    sluice = loader_sluice(ctx, "sqspoison", clickhouse, moto.endpoint, env={"AWS_ENDPOINT_URL_SQS": moto.endpoint}, config={
        "sqs": {"queue_urls": [url], "wait_time_s": 1, "visibility_timeout_s": 30, "extend_interval_s": 5}})
    sluice.start()
    moto.sqs.send_message(QueueUrl=url, MessageBody='{"bucket": "%s", "key": 42}' % BUCKET)
    moto.sqs.send_message(QueueUrl=url, MessageBody=sqs_message(data, data.keys[0]))
    t0 = time.monotonic()
    # A message Sluice deleted would never reach the DLQ: arriving there proves it was left for the redrive.
    wait_for(lambda: queue_counts(moto, dlq)[0] == 1 or None, 150, 2, "the poison message to reach the DLQ")
    elapsed = time.monotonic() - t0
    wait_for(lambda: data.counts() or None, 60, 1, "the good message to load")
    body = moto.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1)["Messages"][0]["Body"]
    result = data.check_exactly_once(data.keys)
    sluice.stop()
    if '"key": 42' not in body:
        raise Fail("the DLQ holds another message: %s" % body[:100])
    return "poison message in the SQS DLQ after 2 receives (%.0f s), never deleted by Sluice; the good message: %s" % (elapsed, result)
