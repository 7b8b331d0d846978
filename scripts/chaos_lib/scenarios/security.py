"""Abuse, authentication, secrets, SSRF and TLS scenarios."""
from __future__ import annotations

import asyncio
import gzip
import json
import math
import os
import random
import re
import select
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

from harness import (BUCKET, Fail, Proxy, HTTPShim, Skip, log, object_event, percentile, raw_request, run_cli,
                     wait_for)
from data import Dataset

from . import scenario
from .intake import fmt_statuses, statuses, unique_event


# MARK: abuse

def stream_request(port, head: bytes, body_chunks, limit_seconds=15.0):
    """Sends `head`, then chunks from the iterator until the server answers or closes; returns (status, seconds, sent)."""
    started = time.monotonic()
    sent = 0
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    answer = b""
    try:
        pending = head
        chunks = iter(body_chunks)
        while time.monotonic() - started < limit_seconds:
            readable, writable, _ = select.select([s], [s] if pending is not None else [], [], 0.05)
            if readable:
                try:
                    data = s.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer:
                    break
            if writable and pending is not None:
                try:
                    n = s.send(pending)
                    sent += n
                    pending = pending[n:] or None
                except (BrokenPipeError, ConnectionResetError):
                    pending = None
                if pending is None:
                    item = next(chunks, None)
                    if isinstance(item, float):
                        time.sleep(item)
                        item = next(chunks, None)
                    pending = item
            elif pending is None and not readable:
                time.sleep(0.01)
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return (int(m.group(1)) if m else None), time.monotonic() - started, sent


def request_bytes(key, path="/v1/events", body=b"", headers=(), content_type="application/json"):
    head = "POST %s HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: %s\r\n" % (path, key)
    if content_type:
        head += "content-type: %s\r\n" % content_type
    for h in headers:
        head += h + "\r\n"
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head += "content-length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


@scenario("abuse", quick=True,
          summary="malformed, deep, huge, endless, compressed and oversized requests: 4xx quickly, never 5xx, memory bounded")
def abuse(ctx):
    sluice = ctx.sluice("abuse", {"http": {"body_timeout_s": 3}})
    sluice.start()
    key = ctx.sentinels.api_key
    port = sluice.port
    baseline = sluice.rss_kb()
    good = unique_event("abuse")
    bomb = gzip.compress(b"\0" * (200 << 20), 9)
    cases = [
        ("malformed JSON", request_bytes(key, body=b'{"version": "0", "id": '), (400,), 2),
        ("not JSON at all", request_bytes(key, body=b"\x00\x01binary\xff"), (400,), 2),
        ("invalid UTF-8", request_bytes(key, body=b'{"version":"\xff\xfe","id":"x"}'), (400,), 2),
        ("wrong types", request_bytes(key, body=json.dumps(dict(good, detail=dict(good["detail"], object={"key": 5, "size": "big"}))).encode()), (400,), 2),
        ("missing fields", request_bytes(key, body=json.dumps({k: v for k, v in good.items() if k != "detail"}).encode()), (400,), 2),
        ("huge number", request_bytes(key, body=json.dumps(good).replace('"size": 4096', '"size": 1e400').encode()), (400,), 2),
        ("100k nested brackets", request_bytes(key, body=b"[" * 100000), (400,), 2),
        ("50k nested objects", request_bytes(key, body=b'{"a":' * 50000), (400,), 2),
        ("1001 events", request_bytes(key, body=json.dumps([good] * 1001).encode()), (400, 413), 2),
        ("gzip bomb, Content-Encoding gzip", request_bytes(key, body=bomb, headers=("content-encoding: gzip",)), (415,), 2),
        ("gzip bomb as JSON", request_bytes(key, body=bomb), (400,), 2),
        ("wrong content type", request_bytes(key, body=json.dumps(good).encode(), content_type="application/xml"), (415,), 2),
        ("Content-Length 1 GB", request_bytes(key, body=b"{}", headers=("content-length: 1073741824",)), (413,), 2),
        ("body over max_body_bytes", request_bytes(key, body=b" " * 300000 + b"{}"), (413,), 3),
        ("CL and TE together", request_bytes(key, body=b"2\r\n{}\r\n0\r\n\r\n", headers=("content-length: 4", "transfer-encoding: chunked")), (400,), 2),
        ("unknown method", b"BREW /v1/events HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n", (400, 404, 405, 501), 2),
        ("100 KB path", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nhost: x\r\n\r\n", (400, 404, 414, 431), 2),
        ("10 MB header", b"POST /v1/events HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * (10 << 20) + b"\r\n\r\n", (400, 413, 431), 3),
        ("100k headers", b"POST /v1/events HTTP/1.1\r\nhost: x\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(100000)) + b"\r\n", (400, 413, 431), 3),
    ]
    results = []
    problems = []
    for name, data, expected, limit in cases:
        if len(data) > (1 << 20):
            # Sent while reading, so an early answer (and close) is seen rather than a broken pipe.
            pieces = [data[i:i + 65536] for i in range(65536, len(data), 65536)]
            status, seconds, _ = stream_request(port, data[:65536], iter(pieces), limit_seconds=limit + 5)
            out, error = b"", None
        else:
            status, out, seconds, error = asyncio.run(raw_request("127.0.0.1", port, data, timeout=limit + 5))
        results.append((name, status or error or "closed", seconds))
        if status not in expected or seconds > limit:
            problems.append("%s: %s in %.1f s (expected %s within %d s)" % (
                name, status or error or "closed without an answer", seconds, "/".join(map(str, expected)), limit))
    # An endless chunked body, sent as fast as possible: cut at max_body_bytes.
    head = request_bytes(key, headers=("transfer-encoding: chunked",))
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    status, seconds, sent = stream_request(port, head, iter(lambda: chunk, None), limit_seconds=15)
    results.append(("endless chunked body", status or "closed", seconds))
    if status != 413 or seconds > 3:
        problems.append("endless chunked body: %s after %.1f s and %d kB (expected 413 within 3 s)" % (status or "no answer", seconds, sent >> 10))
    # The same, trickled: the body timeout (3 s here) ends it.
    def trickle():
        while True:
            yield 0.3
            yield b"1\r\n \r\n"
    status, seconds, sent = stream_request(port, head, trickle(), limit_seconds=15)
    results.append(("trickled endless body", status or "closed", seconds))
    if status != 408 or seconds > 3 + 2:
        problems.append("trickled endless body: %s after %.1f s (expected 408 within 5 s)" % (status or "no answer", seconds))
    # Still serving, never a 5xx, memory bounded.
    if not sluice.alive():
        raise Fail("sluice died during the abuse: %s" % "; ".join(problems))
    after = sluice.request("POST", "/v1/events", unique_event("after"))
    if after.status != 202:
        problems.append("a good event after the abuse was answered %d" % after.status)
    peak = sluice.hwm_kb()
    if peak - baseline > 300 * 1024:
        problems.append("peak RSS grew %d MB over the baseline" % ((peak - baseline) >> 10))
    five = [r for r in results if isinstance(r[1], int) and r[1] >= 500]
    figures = "; ".join("%s %s %.2fs" % r for r in results) + "; RSS %d -> peak %d MB" % (baseline >> 10, peak >> 10)
    if five:
        problems.insert(0, "5xx answers: %s" % five)
    if problems:
        raise Fail("; ".join(problems) + " || " + figures)
    return "%d cases all 4xx: %s" % (len(results), figures)


@scenario("slowloris", quick=True,
          summary="slowhttptest slow headers (under and over http.max_connections) and slow bodies: others still served")
def slowloris(ctx):
    tool = shutil.which("slowhttptest")
    if not tool:
        raise Skip("slowhttptest is not installed (apt-get install slowhttptest)")
    duration = 25 if ctx.quick else 60
    cap = 256 if ctx.quick else 1024
    # Authentication off, so slow bodies reach the body reader instead of being answered 401 at once.
    sluice = ctx.sluice("slow", {"http": {"max_connections": cap}}, auth=False)
    sluice.start()
    figures = []
    problems = []
    attacks = [("slow headers, %d connections (cap %d)" % (cap * 3 // 4, cap), ["-H"], cap * 3 // 4),
               ("slow headers, %d connections (cap %d)" % (cap + cap // 4, cap), ["-H"], cap + cap // 4),
               ("slow body, %d connections" % (cap * 3 // 4), ["-B", "-s", "8192", "-f", "application/json"], cap * 3 // 4)]
    for label, mode, connections in attacks:
        log_path = os.path.join(ctx.dir, "slowhttptest-%d.log" % len(figures))
        attack = subprocess.Popen([tool, *mode, "-c", str(connections), "-r", "400", "-i", "5", "-l", str(duration),
                                   "-t", "POST", "-u", sluice.url + "/v1/events", "-p", "3", "-x", "24"],
                                  stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
        time.sleep(5)
        probes = []
        deadline = time.monotonic() + duration - 8
        while time.monotonic() < deadline:
            for path, body in (("/health", None), ("/v1/events", unique_event("probe"))):
                started = time.monotonic()
                try:
                    r = sluice.request("GET" if body is None else "POST", path, body, timeout=10)
                    probes.append((r.status, time.monotonic() - started))
                except OSError as error:
                    probes.append((type(error).__name__, time.monotonic() - started))
            time.sleep(0.2)
        attack.wait(timeout=duration + 60)
        held = attacker_connections(log_path)
        ok = [s for s, _ in probes if s in (200, 202)]
        p99 = percentile([t for _, t in probes], 99)
        figures.append("%s: attacker held up to %d, %d/%d probes answered, p99 %.0f ms" % (label, held, len(ok), len(probes), p99 * 1000))
        if len(ok) != len(probes) or p99 > 1.0:
            failed = sorted({"%s after %.1f s" % (st, t) for st, t in probes if st not in (200, 202)})
            problems.append("%s: %d of %d probes failed or slow (p99 %.0f ms; %s)" % (
                label, len(probes) - len(ok), len(probes), p99 * 1000, ", ".join(failed[:5]) or "none failed"))
        time.sleep(2)
    if not sluice.alive():
        raise Fail("sluice died under the attack")
    if problems:
        raise Fail("; ".join(problems) + " || " + "; ".join(figures))
    return "; ".join(figures)


def attacker_connections(log_path):
    """The most connections slowhttptest reported as connected at once."""
    try:
        text = open(log_path, errors="replace").read()
    except OSError:
        return 0
    text = re.sub(r"\x1b\[[0-9;]*[mHJ]", "", text)
    values = [int(v) for v in re.findall(r"connected:\s+(\d+)", text)]
    return max(values) if values else 0


# MARK: authentication

def mann_whitney(a, b):
    """Two-sided Mann-Whitney U test (normal approximation with tie correction); returns (U, p)."""
    n1, n2 = len(a), len(b)
    combined = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(combined)
    i = 0
    ties = 0.0
    while i < len(combined):
        j = i
        while j + 1 < len(combined) and combined[j + 1][0] == combined[i][0]:
            j += 1
        rank = (i + j) / 2.0 + 1
        for k in range(i, j + 1):
            ranks[k] = rank
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, combined) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1))))
    z = (u1 - mu) / sigma if sigma else 0.0
    p = math.erfc(abs(z) / math.sqrt(2))
    return u1, p


@scenario("auth", quick=True,
          summary="missing/wrong keys 401; wrong-prefix and wrong-suffix keys take the same time; a rotated pair both work")
def auth(ctx):
    sluice = ctx.sluice("auth", {"auth": {"protect_ops": False}})
    sluice.start()
    key, rotated = ctx.sentinels.api_key, ctx.sentinels.api_key_rotated
    problems = []
    # The helper always adds the right key; the wrong ones are built by hand.
    def with_key(value, path="/v1/events", body=None, header="x-api-key"):
        body = body if body is not None else unique_event("auth")
        payload = json.dumps(body).encode()
        head = "POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % (path, len(payload))
        if value is not None:
            head += "%s: %s\r\n" % (header, value)
        status, out, _, error = asyncio.run(raw_request("127.0.0.1", sluice.port, head.encode() + b"\r\n" + payload))
        ctx.transcript.record("POST", path, status, [], out)
        return status
    results = {
        "missing": with_key(None),
        "empty": with_key(""),
        "wrong": with_key("x" * len(key)),
        "case-changed": with_key(key.lower()),
        "truncated": with_key(key[:-1]),
        "other header": with_key(key, header="authorization"),
        "key 1": with_key(key),
        "key 2 (rotated)": with_key(rotated),
        "dlq without key": None,
    }
    get = "GET /v1/dlq HTTP/1.1\r\nhost: x\r\n\r\n".encode()
    results["dlq without key"], _, _, _ = asyncio.run(raw_request("127.0.0.1", sluice.port, get))
    expected = {k: 401 for k in results}
    expected["key 1"] = expected["key 2 (rotated)"] = 202
    for name, status in results.items():
        if status != expected[name]:
            problems.append("%s: %s (expected %d)" % (name, status, expected[name]))

    # Timing: same length, differing in the first or the last character, interleaved at random on one connection.
    n = 1500 if ctx.quick else 5000
    prefix_key = ("R" if key[0] != "R" else "S") + key[1:]
    suffix_key = key[:-1] + ("Z" if key[-1] != "Z" else "Y")
    order = ["prefix"] * n + ["suffix"] * n
    random.Random(11).shuffle(order)
    times = {"prefix": [], "suffix": []}
    s = socket.create_connection(("127.0.0.1", sluice.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    requests = {kind: ("GET /v1/loads?limit=1 HTTP/1.1\r\nhost: x\r\nx-api-key: %s\r\n\r\n" % value).encode()
                for kind, value in (("prefix", prefix_key), ("suffix", suffix_key))}
    buffer = b""

    def read_response():
        nonlocal buffer
        while True:
            if b"\r\n\r\n" in buffer:
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                if len(rest) >= length:
                    buffer = rest[length:]
                    return int(head.split()[1])
            buffer += s.recv(65536)

    for _ in range(200):  # warm-up
        s.sendall(requests["prefix"])
        read_response()
    for kind in order:
        started = time.perf_counter_ns()
        s.sendall(requests[kind])
        status = read_response()
        times[kind].append((time.perf_counter_ns() - started) / 1000.0)
        if status != 401:
            problems.append("a %s-wrong key was answered %d" % (kind, status))
            break
    s.close()
    _, p = mann_whitney(times["prefix"], times["suffix"])
    m_prefix, m_suffix = percentile(times["prefix"], 50), percentile(times["suffix"], 50)
    diff = m_prefix - m_suffix
    timing = "wrong-prefix median %.1f us, wrong-suffix median %.1f us (difference %.2f us), Mann-Whitney p=%.3f, n=%d each" % (
        m_prefix, m_suffix, diff, p, n)
    if p < 0.001 and abs(diff) >= 2.0:
        problems.append("the two wrong keys take measurably different times: " + timing)
    if problems:
        raise Fail("; ".join(problems))
    return "missing/empty/wrong/case/truncated/other-header/ops-protected 401, both rotated keys 202; " + timing


# MARK: secrets

@scenario("secret-leak", quick=True,
          summary="sentinel API keys, AWS secret and token, ClickHouse password: never in logs, DLQ, /metrics, /health, errors")
def secret_leak(ctx):
    s = ctx.sentinels
    figures = []
    # 1. `sluice config check` redacts.
    code, out, err = run_cli(ctx, ["config", "check"], config={"intake": {"bucket": BUCKET}, "log": {"level": "trace"}},
                             env={"SLUICE_AUTH_API_KEYS": s.api_key + "," + s.api_key_rotated,
                                  "SLUICE_CLICKHOUSE_PASSWORD": s.ch_password}, name="config-check", config_flag=False)
    if code != 0 or "<redacted>" not in out:
        raise Fail("config check failed or shows no redaction (exit %d): %s" % (code, (out + err).strip()[:200]))
    figures.append("config check redacted")
    # 2. A password inside the ClickHouse URL is refused without being repeated.
    code, out, err = run_cli(ctx, ["config", "check"], config={"intake": {"bucket": BUCKET}},
                             env={"SLUICE_CLICKHOUSE_URL": "http://chaos:%s@127.0.0.1:8123" % s.ch_password}, name="url-password",
                             config_flag=False)
    figures.append("credentials in clickhouse.url: exit %d" % code)
    # 3. The service at trace level: intake successes, 400s, 401s, DLQ, ops endpoints.
    sluice = ctx.sluice("leak", {"log": {"level": "trace"}})
    sluice.start()
    sluice.post_event(unique_event("leak"))
    sluice.request("POST", "/v1/events", b"{broken", headers={"content-type": "application/json"})
    sluice.request("POST", "/v1/events", unique_event("leak"), headers={"x-api-key": s.api_key[:-1] + "X"})
    sluice.request("POST", "/v1/loads", {"uri": "s3://%s/chaos/t/x.parquet" % BUCKET})
    sluice.stop()
    figures.append("serve at trace level: intake, 400, 401, manual load, /health, /ready, /metrics, DLQ read")
    # 4. The loader's error paths through `sluice load`: S3 errors that echo the signed headers, ClickHouse
    #    authentication failures and successes, all at trace level.
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    clickhouse.ensure_user(s.ch_user, s.ch_password)
    data = Dataset(ctx, clickhouse, moto, "leak", 1)
    shim = HTTPShim(ctx, upstream=moto.endpoint)
    shim.rules([{"match": "^GET /[^ ]*denied", "action": "error", "status": 403, "code": "SignatureDoesNotMatch",
                 "message": "The request signature we calculated does not match the signature you provided.", "echo_auth": True}])
    data.add("denied.parquet")
    # The trap is armed: the shim's error body repeats the session token, and the scan finds it there.
    import urllib.request
    probe = urllib.request.Request(shim.endpoint + "/%s/%s" % (BUCKET, data.key("denied.parquet")),
                                   headers={"x-amz-security-token": s.aws_token})
    try:
        urllib.request.urlopen(probe, timeout=10)
        raise Fail("the S3 shim did not answer the trap request with an error")
    except urllib.error.HTTPError as error:
        if "AWS_SESSION_TOKEN" not in s.scan(error.read()):
            raise Fail("the leak scan does not see the token in the shim's error body")
    base = {"intake": {"bucket": BUCKET, "domains": ["chaos"]},
            "domains": {"chaos": {"prefix": "chaos/", "database": "chaos"}},
            "clickhouse": {"url": clickhouse.url, "user": s.ch_user},
            "s3": {"endpoint": shim.endpoint, "path_style": True}, "log": {"level": "trace"}}
    env = {"SLUICE_CLICKHOUSE_PASSWORD": s.ch_password}
    loaded = run_cli(ctx, ["load", "s3://%s/%s" % (BUCKET, data.keys[0]), "--verbose"], config=base, env=env, name="load-ok")
    denied = run_cli(ctx, ["load", "s3://%s/%s" % (BUCKET, data.key("denied.parquet")), "--verbose"], config=base, env=env, name="load-denied")
    wrong_pw = run_cli(ctx, ["load", "s3://%s/%s" % (BUCKET, data.keys[0]), "--verbose"], config=base,
                       env={"SLUICE_CLICKHOUSE_PASSWORD": s.ch_password + "x"}, name="load-wrong-password")
    figures.append("sluice load: ok exit %d, S3 SignatureDoesNotMatch echoing the token exit %d, wrong ClickHouse password exit %d" % (
        loaded[0], denied[0], wrong_pw[0]))
    if loaded[0] != 0 or '"status":"loaded"' not in loaded[1]:
        raise Fail("the control load did not load (exit %d): %s" % (loaded[0], (loaded[1] + loaded[2]).strip()[-300:]))
    if denied[0] == 0 or wrong_pw[0] == 0:
        raise Fail("a load that must fail succeeded (denied %d, wrong password %d)" % (denied[0], wrong_pw[0]))
    return "; ".join(figures) + "; 0 sentinel occurrences"


# MARK: SSRF

def s3_uri_encode(text):
    return urllib.parse.quote(text, safe="-_.~/")


@scenario("ssrf", quick=True,
          summary="crafted buckets and keys cannot change the S3 host or path: rejected or exactly encoded")
def ssrf(ctx):
    shim = HTTPShim(ctx)  # a recorder: every request is answered 404 NoSuchKey
    clickhouse = ctx.servers.clickhouse("26")
    clickhouse.query("CREATE DATABASE IF NOT EXISTS chaos")
    clickhouse.query("CREATE TABLE IF NOT EXISTS chaos.t (id UInt64, src String, v Float64, pad String) ENGINE = MergeTree() ORDER BY id")
    tracer = shutil.which("strace")
    keys = [
        "chaos/t/../../other-bucket/secret.parquet", "chaos/t/a?x-id=GetObject&versionId=1", "chaos/t/a#fragment",
        "chaos/t/a b+c%2F%00.parquet", "chaos/t/a\r\nHost: evil.example\r\n.parquet", "chaos/t/\u00fcml\u00e4ut-\U0001F600.parquet",
        "chaos/t/..%2f..%2fx.parquet", "chaos//t/double.parquet", "chaos/t/@evil.example/x.parquet",
        "chaos/t/http://169.254.169.254/latest/meta-data/iam", "chaos/t/%2e%2e/x.parquet", "chaos/t/;jsessionid=1.parquet",
        "/chaos/t/leading-slash.parquet", "chaos/t/x.parquet/..",
    ]
    buckets = ["evil.example", "127.0.0.1:80", "a/b", "a@b", "bucket#x", "169.254.169.254", "a..b", "Bucket", "a",
               "b" * 64, "bucket\r\nhost:evil", "-bucket", "bucket.", "xn--bucket", "bucket%2f..", "localhost:1"]
    config = {"intake": {"bucket": BUCKET, "domains": ["chaos"]},
              "domains": {"chaos": {"prefix": "chaos/", "database": "chaos"}},
              "clickhouse": {"url": clickhouse.url}, "s3": {"endpoint": shim.endpoint, "path_style": True}}
    problems = []
    sent = rejected = 0
    expected_host = "127.0.0.1:%d" % shim.port
    cases = [(BUCKET, k) for k in keys] + [(b, "chaos/t/x.parquet") for b in buckets]
    for bucket, key in cases:
        before = len(shim.requests())
        trace = os.path.join(ctx.dir, "connect-%d.trace" % (sent + rejected))
        wrapper = [tracer, "-f", "-e", "trace=connect", "-o", trace] if tracer else []
        args = ["load", "s3://%s/%s" % (bucket, key), "--table", "chaos.t"]
        code, out, err = run_cli(ctx, args, config=config, name="ssrf") if not wrapper else run_traced(ctx, wrapper, args, config)
        new = shim.requests()[before:]
        if wrapper and os.path.exists(trace):
            for line in open(trace):
                m = re.search(r'sin6?_addr=inet_(?:pton\(AF_INET6?, )?addr\("([^"]+)"\)|inet_addr\("([^"]+)"\)', line)
                port = re.search(r"sin6?_port=htons\((\d+)\)", line)
                address = m and (m.group(1) or m.group(2))
                if address and port and (address, int(port.group(1))) not in (("127.0.0.1", shim.port), ("127.0.0.1", clickhouse.port)):
                    problems.append("s3://%s/%s: connected to %s:%s" % (bucket, key, address, port.group(1)))
        if not new:
            if code == 0 or '"code":"E001"' not in out:
                problems.append("s3://%s/%s: no S3 request, and not refused as invalid input (exit %d): %s" % (
                    bucket, key, code, (err.strip().splitlines() or [""])[-1][:160]))
            rejected += 1
            continue
        sent += 1
        for request in new:
            path = request["path"].split("?", 1)
            query = path[1] if len(path) > 1 else ""
            if request["host"] != expected_host:
                problems.append("s3://%s/%s: Host %r" % (bucket, key, request["host"]))
            decoded = urllib.parse.unquote(path[0])
            if decoded != "/%s/%s" % (bucket, key):
                problems.append("s3://%s/%s: the request path %r decodes to %r, not the bucket and key" % (bucket, key, path[0], decoded))
            if path[0] != "/%s/%s" % (bucket, s3_uri_encode(key)):
                problems.append("s3://%s/%s: path %r is not the RFC 3986 encoding %r" % (bucket, key, path[0], "/%s/%s" % (bucket, s3_uri_encode(key))))
            for name in urllib.parse.parse_qs(query, keep_blank_values=True):
                if name not in ("x-id", "partNumber", "versionId") or (name == "versionId" and "versionId" in key):
                    problems.append("s3://%s/%s: query parameter %r came from the key" % (bucket, key, name))
    # Intake: crafted buckets never reach the journal.
    sluice = ctx.sluice("ssrf")
    sluice.start()
    journaled_before = len(sluice.entries())
    answers = []
    for bucket in buckets:
        r = sluice.post_event(object_event("chaos/t/ds=1/x.parquet", bucket=bucket))
        answers.append(r.status)
    journaled = len(sluice.entries()) - journaled_before
    if journaled:
        problems.append("%d events with crafted buckets were journaled" % journaled)
    if any(a >= 500 or a == 202 for a in answers):
        problems.append("crafted-bucket events answered %s" % sorted(set(answers)))
    figures = ("%d crafted keys/buckets: %d sent exactly encoded to the configured endpoint, %d rejected before any "
               "request; connect() only to the endpoint%s; intake: crafted buckets answered %s, 0 journaled" % (
                   len(cases), sent, rejected, "" if tracer else " (not traced: no strace)",
                   "/".join(str(a) for a in sorted(set(answers)))))
    if problems:
        raise Fail("; ".join(sorted(set(problems))[:8]) + " || " + figures)
    return figures


def run_traced(ctx, wrapper, args, config):
    import yaml
    path = os.path.join(ctx.dir, "ssrf-traced.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AWS_"))}
    env.update({"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": ctx.sentinels.aws_secret,
                "AWS_SESSION_TOKEN": ctx.sentinels.aws_token, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    result = subprocess.run(wrapper + [ctx.binary] + args + ["--config", path], capture_output=True, text=True, timeout=120, env=env)
    out = os.path.join(ctx.dir, "ssrf-%d.out" % len(ctx.scan_paths))
    with open(out, "w") as f:
        f.write(result.stdout + "\n--- stderr\n" + result.stderr)
    ctx.scan_paths.append(out)
    return result.returncode, result.stdout, result.stderr


# MARK: TLS

def make_certificates(directory):
    """A CA, a CA-signed certificate for 127.0.0.1/localhost, one for wrong.example, and a self-signed one."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Sluice chaos CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    for name, san in (("good", "IP:127.0.0.1,DNS:localhost"), ("wrong", "DNS:wrong.example")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % san.split(":")[1].split(",")[0],
                "-keyout", name + ".key", "-out", name + ".csr")
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", "self.key", "-out", "self.pem")
    return {name: (os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key"))
            for name in ("good", "wrong", "self")}


@scenario("tls", quick=True,
          summary="https ClickHouse and S3 endpoints: self-signed or wrong-host certificates refused; a trusted one works")
def tls(ctx):
    if not shutil.which("openssl"):
        raise Skip("openssl is not installed")
    certs = make_certificates(ctx.dir)
    moto = ctx.servers.moto()
    clickhouse = ctx.servers.clickhouse("26")
    data = Dataset(ctx, clickhouse, moto, "tls", 1)
    key = data.keys[0]
    # The chaos CA is trusted only inside a private mount namespace, where it is added to the system bundle.
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    trusted = os.path.join(ctx.dir, "bundle.pem")
    namespace = None
    if os.path.exists(bundle) and shutil.which("unshare"):
        with open(trusted, "w") as f:
            f.write(open(bundle).read() + "\n" + open(os.path.join(ctx.dir, "ca.pem")).read())
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                'mount --bind "$0" %s && grep -c "BEGIN CERT" %s' % (bundle, bundle), trusted],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            namespace = ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$0" "$1" && shift && exec "$@"', trusted, bundle]
    results = {}
    problems = []

    def attempt(label, target, cert, verify=True, trust=False):
        proxy = Proxy(ctx, clickhouse.port if target == "clickhouse" else int(moto.endpoint.rsplit(":", 1)[1]),
                      name="tls-%s" % label.replace(" ", "-"), tls=certs[cert])
        url = "https://127.0.0.1:%d" % proxy.port
        config = {"intake": {"bucket": BUCKET, "domains": ["chaos"]}, "domains": {"chaos": {"prefix": "chaos/", "database": "chaos"}},
                  "clickhouse": {"url": url if target == "clickhouse" else clickhouse.url, "tls_verify": verify},
                  "s3": {"endpoint": url if target == "s3" else moto.endpoint, "path_style": True}}
        args = ["load", "s3://%s/%s" % (BUCKET, key)]
        if trust:
            import yaml
            path = os.path.join(ctx.dir, "tls-%s.yaml" % label.replace(" ", "-"))
            with open(path, "w") as f:
                yaml.safe_dump(config, f)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AWS_"))}
            env.update({"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": ctx.sentinels.aws_secret, "AWS_REGION": "us-east-1",
                        "AWS_EC2_METADATA_DISABLED": "true"})
            r = subprocess.run(namespace + [ctx.binary] + args + ["--config", path], capture_output=True, text=True, timeout=120, env=env)
            code, err = r.returncode, r.stderr
            out_path = os.path.join(ctx.dir, "tls-%s.out" % label.replace(" ", "-"))
            with open(out_path, "w") as f:
                f.write(r.stdout + "\n--- stderr\n" + r.stderr)
            ctx.scan_paths.append(out_path)
        else:
            code, _, err = run_cli(ctx, args, config=config, name="tls")
        reached = proxy.state()["stats"]["bytes_up"]
        proxy.stop()
        results[label] = (code, reached, err.strip().splitlines()[-1][:140] if err.strip() else "")
        return code, reached

    for target in ("clickhouse", "s3"):
        code, reached = attempt("%s self-signed" % target, target, "self")
        if code == 0 or reached:
            problems.append("%s with a self-signed certificate: exit %d, %d bytes reached the server" % (target, code, reached))
        if namespace:
            code, reached = attempt("%s wrong host" % target, target, "wrong", trust=True)
            if code == 0 or reached:
                problems.append("%s with a trusted certificate for wrong.example: exit %d, %d bytes reached the server" % (target, code, reached))
            data.clickhouse.query("TRUNCATE TABLE chaos.tls")
            code, reached = attempt("%s trusted" % target, target, "good", trust=True)
            if code != 0:
                problems.append("%s with a trusted certificate for 127.0.0.1 failed (exit %d): %s" % (target, code, results["%s trusted" % target][2]))
    data.clickhouse.query("TRUNCATE TABLE chaos.tls")
    code, reached = attempt("clickhouse self-signed, tls_verify false", "clickhouse", "self", verify=False)
    if code != 0:
        problems.append("clickhouse.tls_verify: false with a self-signed certificate failed (exit %d)" % code)
    figures = "; ".join("%s: exit %d, %d bytes upstream%s" % (k, v[0], v[1], (" (" + v[2] + ")") if v[0] else "")
                        for k, v in results.items())
    if not namespace:
        figures += "; wrong-host and trusted cases not run (no private mount namespace to trust a test CA)"
    if problems:
        raise Fail("; ".join(problems) + " || " + figures)
    return figures
