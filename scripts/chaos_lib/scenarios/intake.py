"""Scenarios that need only intake and the journal."""
from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid

from harness import HERE, Fail, Skip, log, object_event, percentile, raw_request, wait_for

from . import scenario


def unique_event(tag="e", size=4096):
    return object_event("chaos/events/ds=2025-09-10/%s-%s.parquet" % (tag, uuid.uuid4().hex), size=size)


def post_many(sluice, events, concurrency=8, stop=None):
    """Posts each event once from `concurrency` keep-alive clients.

    Returns a list of dicts: id, status (None on a connection error), retry_after, seconds, error, at (monotonic).
    """
    results = [None] * len(events)
    index = iter(range(len(events)))
    lock = threading.Lock()

    def worker():
        client = sluice.client(timeout=30)
        try:
            while True:
                if stop is not None and stop.is_set():
                    return
                with lock:
                    i = next(index, None)
                if i is None:
                    return
                event = events[i]
                started = time.monotonic()
                try:
                    r = client.request("POST", "/v1/events", event)
                    results[i] = {"id": event["id"], "status": r.status, "retry_after": r.header("retry-after"),
                                  "seconds": r.elapsed, "error": None, "at": started, "body": r.body[:300]}
                except OSError as error:
                    client.close()
                    results[i] = {"id": event["id"], "status": None, "retry_after": None,
                                  "seconds": time.monotonic() - started, "error": type(error).__name__, "at": started}
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def statuses(results):
    out = {}
    for r in results:
        key = r["status"] if r["status"] is not None else r["error"]
        out[key] = out.get(key, 0) + 1
    return out


def fmt_statuses(counts):
    return " ".join("%s=%d" % (k, v) for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])))


def check_persisted(sluice, results, what="202"):
    """Every event answered 2xx is in the journal (read after sluice stopped)."""
    accepted = {r["id"] for r in results if r["status"] in (200, 202)}
    journaled = {e["correlation_id"] for e in sluice.entries()}
    missing = accepted - journaled
    if missing:
        raise Fail("%d of %d events answered %s are not in the journal (e.g. %s)" % (len(missing), len(accepted), what, sorted(missing)[:2]))
    return len(accepted)


# MARK: acknowledgement after durability

STRACE_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")


def parse_strace(path, journal):
    """Syscall records from `strace -f -ttt -y`: (kind, fd path, start, end, data) for journal writes, syncs and
    socket writes; `<unfinished ...>` / `resumed` pairs are joined per thread."""
    pending = {}
    records = []
    wal = journal + "-wal"
    with open(path, errors="replace") as f:
        for line in f:
            m = STRACE_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            pid, at, rest = m.group(1), float(m.group(2)), m.group(3)
            if rest.startswith("<..."):
                call = re.match(r"<\.\.\. (\w+) resumed>", rest)
                started = pending.pop((pid, call.group(1) if call else ""), None)
                if started is not None:
                    kind, target, start, data = started
                    records.append((kind, target, start, at, data))
                continue
            call = re.match(r"(\w+)\((\d+)<([^>]*)>(.*)", rest)
            if not call:
                continue
            kind, target, tail = call.group(1), call.group(3), call.group(4)
            if kind in ("fsync", "fdatasync", "pwrite64", "write", "pwrite") and target in (journal, wal):
                pass
            elif kind in ("write", "writev", "sendmsg", "sendto") and target.startswith("socket:"):
                pass
            else:
                continue
            if rest.endswith("<unfinished ...>"):
                pending[(pid, kind)] = (kind, target, at, tail)
            else:
                records.append((kind, target, at, at, tail))
    return records


@scenario("ack-durability", quick=True,
          summary="strace: the journal's fsync/fdatasync completes after the event's WAL frame and before its 202")
def ack_durability(ctx):
    if not shutil.which("strace"):
        raise Skip("strace is not installed (apt-get install strace)")
    n = 120 if ctx.quick else 400
    trace = os.path.join(ctx.dir, "strace.txt")
    sluice = ctx.sluice("ack", wrapper=["strace", "-f", "-ttt", "-y", "-s", "9000", "-o", trace,
                                        "-e", "trace=fsync,fdatasync,write,pwrite64,writev,sendmsg,sendto"])
    sluice.start(timeout=120)
    events = [unique_event("ack") for _ in range(n)]
    results = post_many(sluice, events, concurrency=8)
    codes = statuses(results)
    if codes.get(202) != n:
        raise Fail("expected %d x 202, got %s" % (n, fmt_statuses(codes)))
    code = sluice.stop()
    if code != 0:
        raise Fail("sluice exited with %s after SIGTERM" % code)
    records = parse_strace(trace, os.path.realpath(sluice.journal))
    syncs = [(start, end) for kind, _, start, end, _ in records if kind in ("fsync", "fdatasync")]
    frames = [(start, data) for kind, target, start, _, data in records
              if kind in ("pwrite64", "pwrite", "write") and target.endswith("-wal")]
    replies = [(start, data) for kind, target, start, _, data in records
               if kind in ("write", "writev", "sendmsg", "sendto") and "202 Accepted" in data]
    if not syncs or not frames:
        raise Fail("strace saw %d journal syncs and %d WAL writes; the trace is unusable" % (len(syncs), len(frames)))
    checked = 0
    gaps = []
    for event in events:
        eid = event["id"]
        reply = next((start for start, data in replies if eid in data), None)
        if reply is None:
            raise Fail("no 202 carrying %s was seen in the trace" % eid)
        frame = next((start for start, data in frames if eid in data), None)
        if frame is None:
            raise Fail("event %s was answered 202 but its id was never written to the WAL" % eid)
        if frame > reply:
            raise Fail("event %s: its 202 was written %.1f ms before its WAL frame" % (eid, (frame - reply) * 1000))
        sync = [end for start, end in syncs if start >= frame and end <= reply]
        if not sync:
            raise Fail("event %s: no fsync/fdatasync of the journal between its WAL frame and its 202" % eid)
        gaps.append((reply - min(sync)) * 1000)
        checked += 1
    return ("%d/%d 202s preceded by a journal fsync after their WAL frame; %d syncs for %d events (group commit); "
            "sync-to-202 median %.2f ms" % (checked, n, len(syncs), n, percentile(gaps, 50)))


# MARK: damaged journal

def make_journal(ctx, sluice, count=200):
    sluice.start()
    results = post_many(sluice, [unique_event("dmg") for _ in range(count)], concurrency=4)
    if statuses(results).get(202) != count:
        raise Fail("setup: %s" % fmt_statuses(statuses(results)))
    if sluice.stop() != 0:
        raise Fail("setup: sluice did not exit 0")
    for suffix in ("-wal", "-shm"):
        path = sluice.journal + suffix
        if os.path.exists(path) and os.path.getsize(path) > 0 and suffix == "-wal":
            raise Fail("setup: the WAL was not checkpointed at shutdown (%d bytes)" % os.path.getsize(path))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@scenario("journal-damage", quick=True,
          summary="corrupt header, truncated file, garbage page: refuse to start, say why, keep the file, /health")
def journal_damage(ctx):
    setup = ctx.sluice("pristine")
    make_journal(ctx, setup)
    pristine = setup.journal + ".pristine"
    shutil.copyfile(setup.journal, pristine)
    size = os.path.getsize(pristine)
    pages = size // 4096
    rng = random.Random(7)

    def damage_header(path):
        with open(path, "r+b") as f:
            f.write(b"this is not an SQLite file" + bytes(74))

    def damage_truncate(path):
        with open(path, "r+b") as f:
            f.truncate((pages // 2) * 4096)

    def damage_page(path):
        with open(path, "r+b") as f:
            f.seek((pages // 2) * 4096)
            f.write(bytes(rng.getrandbits(8) for _ in range(4096)))

    figures = []
    problems = []
    for variant, damage in (("header", damage_header), ("truncated", damage_truncate), ("page", damage_page)):
        sluice = ctx.sluice("damaged-" + variant)
        shutil.copyfile(pristine, sluice.journal)
        damage(sluice.journal)
        before = sha256(sluice.journal)
        sluice.start(wait=False)
        deadline = time.monotonic() + 30
        port = None
        while time.monotonic() < deadline and sluice.alive():
            m = re.search(r'"msg":"listening".*?"port":"?(\d+)', sluice.log_text())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.1)
        exit_code = sluice.wait(timeout=1) if not sluice.alive() else None
        text = sluice.log_text()
        says = re.search(r"(corrupt|integrity|not a usable|malformed|cannot be read)", text, re.I)
        names_file = sluice.journal in text
        kept = os.path.exists(sluice.journal) and sha256(sluice.journal) == before
        health = "not served (process exited %s)" % exit_code if port is None else None
        intake_ok = True
        if port is not None:
            sluice.port, sluice.url = port, "http://127.0.0.1:%d" % port
            h = sluice.request("GET", "/health")
            body = h.body.decode(errors="replace")
            health = "%d%s" % (h.status, " naming the file" if sluice.journal in body else " (%s)" % body.strip()[:80])
            r = sluice.post_event(unique_event("dmg"))
            intake_ok = r.status == 503
            health += ", intake %d" % r.status
            if not re.search(r"journal", body, re.I) or h.status == 200:
                problems.append("%s: /health does not report the damaged journal (%s)" % (variant, health))
            if not intake_ok:
                problems.append("%s: intake answered %d on a damaged journal" % (variant, r.status))
            sluice.stop()
        else:
            problems.append("%s: /health cannot report it: the process exits (%s) instead of serving a failing /health"
                            % (variant, exit_code))
        if exit_code == 0:
            problems.append("%s: exit status 0 on a damaged journal" % variant)
        if not says or not names_file:
            problems.append("%s: the message does not say what is wrong with which file: %s" % (variant, text.strip()[-200:]))
        if not kept:
            problems.append("%s: the damaged file was changed or removed" % variant)
        figures.append("%s: %s, log names the file and the damage %s, file kept byte for byte %s, /health %s" % (
            variant, "still serving /health" if exit_code is None else "exit %s" % exit_code,
            "yes" if says and names_file else "no", "yes" if kept else "NO", health))
    if problems:
        raise Fail("; ".join(problems))
    return "; ".join(figures)


# MARK: disk full and read-only

def mount_tmpfs(ctx, directory, size):
    os.makedirs(directory, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", directory], capture_output=True, text=True)
    if result.returncode != 0:
        raise Skip("cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): %s" % result.stderr.strip())
    ctx.cleanup.append(lambda: subprocess.run(["umount", "-l", directory], capture_output=True))


def fill(directory, name="filler"):
    """Writes until the file system is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with open(os.path.join(directory, name), "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                written += f.write(b"\0" * 512)
        except OSError:
            pass
    return written


def run_until(sluice, seconds, predicate=None, tag="w", client=None):
    """Posts new events one at a time for up to `seconds` (or until predicate(result) holds); returns results."""
    out = []
    own = client is None
    client = client or sluice.client(timeout=15)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            event = unique_event(tag)
            started = time.monotonic()
            try:
                r = client.request("POST", "/v1/events", event)
                result = {"id": event["id"], "status": r.status, "retry_after": r.header("retry-after"),
                          "seconds": r.elapsed, "error": None, "at": started, "body": r.body[:300]}
            except OSError as error:
                client.close()
                result = {"id": event["id"], "status": None, "retry_after": None, "seconds": time.monotonic() - started,
                          "error": type(error).__name__, "at": started}
            out.append(result)
            if predicate and predicate(result):
                break
    finally:
        if own:
            client.close()
    return out


def check_unavailable_answers(results, label):
    """While the journal cannot write: only 503 with Retry-After, never 2xx."""
    bad = [r for r in results if r["status"] != 503 or not r["retry_after"]]
    if bad:
        sample = bad[0]
        raise Fail("%s: %d of %d answers were not 503 with Retry-After (e.g. %s %s)" % (
            label, len(bad), len(results), sample["status"] or sample["error"], sample.get("body", b"")[:120]))


@scenario("disk-full", quick=True,
          summary="journal on a small tmpfs filled up: 503 + Retry-After, no crash, no unpersisted 2xx, recovery")
def disk_full(ctx):
    directory = os.path.join(ctx.dir, "tmpfs")
    mount_tmpfs(ctx, directory, "16m")
    sluice = ctx.sluice("full", journal=os.path.join(directory, "journal.db"))
    sluice.start()
    warm = post_many(sluice, [unique_event("pre") for _ in range(30)], concurrency=2)
    if statuses(warm).get(202) != 30:
        raise Fail("before the disk filled: %s" % fmt_statuses(statuses(warm)))
    filled = fill(directory)
    # Until SQLite runs out of preallocated WAL space some writes may still succeed; the first 503 marks "full".
    reached = run_until(sluice, 60, predicate=lambda r: r["status"] != 202, tag="edge")
    if not reached or reached[-1]["status"] != 503:
        last = reached[-1] if reached else {}
        raise Fail("the full disk was never answered 503 (last answer %s, %s)" % (last.get("status") or last.get("error"), last.get("body", b"")[:150]))
    accepted_edge = sum(1 for r in reached if r["status"] == 202)
    during = run_until(sluice, 5 if ctx.quick else 15, tag="full")
    check_unavailable_answers(during, "disk full")
    if not sluice.alive():
        raise Fail("sluice died while the disk was full")
    ready = sluice.request("GET", "/ready")
    os.unlink(os.path.join(directory, "filler"))
    t0 = time.monotonic()
    recovered = run_until(sluice, 30, predicate=lambda r: r["status"] == 202, tag="post")
    if not recovered or recovered[-1]["status"] != 202:
        raise Fail("no 202 within 30 s after space returned (%s)" % fmt_statuses(statuses(recovered)))
    recovery = time.monotonic() - t0
    after = post_many(sluice, [unique_event("post") for _ in range(30)], concurrency=2)
    if statuses(after).get(202) != 30:
        raise Fail("after recovery: %s" % fmt_statuses(statuses(after)))
    code = sluice.stop()
    if code != 0:
        raise Fail("exit status %s after SIGTERM" % code)
    persisted = check_persisted(sluice, warm + reached + during + recovered + after)
    return ("filler %d MB; %d 202s at the edge, then %d x 503 + Retry-After while full; /ready %d; "
            "recovered %.1f s after space returned; %d acknowledged events all in the journal; exit 0" % (
                filled >> 20, accepted_edge, len(during) + 1, ready.status, recovery, persisted))


def faultfs_library(ctx):
    out = os.path.join(ctx.suite.work, "faultfs.so")
    if not os.path.exists(out):
        result = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", out, os.path.join(HERE, "faultfs.c"), "-ldl"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise Skip("cannot build the faultfs preload library: %s" % result.stderr.strip()[:200])
    return out


@scenario("read-only", quick=True,
          summary="journal read-only at start-up (ro bind mount) and mid-run (EROFS injected): 503, no crash, recovery")
def read_only(ctx):
    figures = []
    # 1. Start-up on a read-only bind mount of a directory holding a good journal.
    rw = os.path.join(ctx.dir, "rw")
    ro = os.path.join(ctx.dir, "ro")
    mount_tmpfs(ctx, rw, "16m")
    seed = ctx.sluice("seed", journal=os.path.join(rw, "journal.db"))
    make_journal(ctx, seed, count=20)
    os.makedirs(ro, exist_ok=True)
    for args in (["mount", "--bind", rw, ro], ["mount", "-o", "remount,bind,ro", ro]):
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0:
            raise Skip("cannot make a read-only bind mount: %s" % result.stderr.strip())
    ctx.cleanup.append(lambda: subprocess.run(["umount", "-l", ro], capture_output=True))
    sluice = ctx.sluice("ro-start", journal=os.path.join(ro, "journal.db"))
    sluice.start(wait=False)
    port = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sluice.alive():
        m = re.search(r'"msg":"listening".*?"port":"?(\d+)', sluice.log_text())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if port is None:
        code = sluice.wait(timeout=5)
        if code in (0, None):
            raise Fail("read-only journal at start: neither listening nor exited with an error (status %s)" % code)
        if code < 0:
            raise Fail("read-only journal at start: sluice died of signal %d" % -code)
        text = sluice.log_text()
        if "read-only" not in text.lower() and "readonly" not in text.lower() and "journal" not in text.lower():
            raise Fail("read-only journal at start: exit %d without saying why: %s" % (code, text.strip()[-200:]))
        figures.append("ro mount at start: refused to start (exit %d, names the journal)" % code)
    else:
        sluice.port, sluice.url = port, "http://127.0.0.1:%d" % port
        answers = run_until(sluice, 3, tag="ro")
        check_unavailable_answers(answers, "read-only at start")
        figures.append("ro mount at start: serving, %d x 503 + Retry-After" % len(answers))
        sluice.stop()

    # 2. Mid-run: EROFS from every write and sync of the journal's files, then writable again.
    library = faultfs_library(ctx)
    directory = os.path.join(ctx.dir, "live")
    os.makedirs(directory)
    flag = os.path.join(ctx.dir, "faultfs.flag")
    sluice = ctx.sluice("ro-live", journal=os.path.join(directory, "journal.db"),
                        env={"LD_PRELOAD": library, "CHAOS_FAULTFS_FLAG": flag, "CHAOS_FAULTFS_PREFIX": directory})
    sluice.start()
    warm = post_many(sluice, [unique_event("pre") for _ in range(20)], concurrency=2)
    if statuses(warm).get(202) != 20:
        raise Fail("before EROFS: %s" % fmt_statuses(statuses(warm)))
    with open(flag, "w") as f:
        f.write("EROFS")
    during = run_until(sluice, 4 if ctx.quick else 12, tag="erofs")
    check_unavailable_answers(during, "EROFS")
    if not sluice.alive():
        raise Fail("sluice died while the journal was read-only")
    os.unlink(flag)
    t0 = time.monotonic()
    recovered = run_until(sluice, 30, predicate=lambda r: r["status"] == 202, tag="post")
    if not recovered or recovered[-1]["status"] != 202:
        raise Fail("no 202 within 30 s after the journal became writable again (%s; last: %s)" % (
            fmt_statuses(statuses(recovered)), recovered[-1].get("body", b"")[:160] if recovered else ""))
    recovery = time.monotonic() - t0
    after = post_many(sluice, [unique_event("post") for _ in range(20)], concurrency=2)
    if statuses(after).get(202) != 20:
        raise Fail("after EROFS: %s" % fmt_statuses(statuses(after)))
    code = sluice.stop()
    if code != 0:
        raise Fail("exit status %s after SIGTERM" % code)
    persisted = check_persisted(sluice, warm + during + recovered + after)
    figures.append("EROFS mid-run (LD_PRELOAD faultfs): %d x 503 + Retry-After, recovered in %.1f s, "
                   "%d acknowledged all journaled, exit 0" % (len(during), recovery, persisted))
    return "; ".join(figures)


# MARK: SIGTERM under load

@scenario("sigterm", quick=True,
          summary="SIGTERM under load: 202 or 503 + Retry-After only, exit 0, every 202 journaled")
def sigterm(ctx):
    drain = 2
    # Room for everything the workers send: this scenario is about the drain, not about a full queue (queue-full).
    sluice = ctx.sluice("term", {"http": {"drain_seconds": drain}, "journal": {"max_pending": 10_000_000}})
    sluice.start()
    stop = threading.Event()
    results = []
    lock = threading.Lock()

    def worker():
        got = []
        while not stop.is_set():
            got += run_until(sluice, 0.5, tag="term")
            if got and got[-1]["error"] == "ConnectionRefusedError":
                break
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(3 if ctx.quick else 8)
    term_at = time.monotonic()
    sluice.signal(signal.SIGTERM)
    code = sluice.wait(timeout=drain + 60)
    stop.set()
    for t in threads:
        t.join()
    exit_after = time.monotonic() - term_at
    if code is None:
        raise Fail("sluice did not exit within %d s of SIGTERM" % (drain + 60))
    before = [r for r in results if r["at"] < term_at]
    after = [r for r in results if r["at"] >= term_at]
    bad_before = [r for r in before if r["status"] not in (202,) and r["at"] < term_at - 0.5]
    if bad_before:
        raise Fail("before SIGTERM: %s" % fmt_statuses(statuses(bad_before)))
    allowed_errors = ("ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected", "BrokenPipeError")
    bad = [r for r in after if not (r["status"] == 202 or (r["status"] == 503 and r["retry_after"])
                                    or r["error"] in allowed_errors)]
    if bad:
        raise Fail("after SIGTERM: unexpected answers %s" % fmt_statuses(statuses(bad)))
    if code != 0:
        raise Fail("exit status %s after SIGTERM" % code)
    refused_503 = [r for r in after if r["status"] == 503]
    if not refused_503:
        raise Fail("no 503 during the %d s drain (after: %s)" % (drain, fmt_statuses(statuses(after))))
    first_503 = min(r["at"] for r in refused_503) - term_at
    persisted = check_persisted(sluice, results)
    leftover = sluice.entries("state = 'loading'")
    if leftover:
        raise Fail("%d entries left in state loading" % len(leftover))
    return ("%d requests before SIGTERM (all 202); after: %s; first 503 %.0f ms after the signal; exit 0 in %.1f s; "
            "%d acknowledged all journaled" % (len(before), fmt_statuses(statuses(after)), first_503 * 1000,
                                               exit_after, persisted))


# MARK: queue full

@scenario("queue-full", quick=True,
          summary="journal.max_pending reached: exact 202 and 429 counts, Retry-After, all-or-nothing batches, flat memory")
def queue_full(ctx):
    limit = 200 if ctx.quick else 1000
    retry_after = 7
    sluice = ctx.sluice("full", {"journal": {"max_pending": limit}, "http": {"retry_after_s": retry_after}})
    sluice.start()
    # Fill to limit - 5, then a batch of 10 must be refused whole.
    first = post_many(sluice, [unique_event("q") for _ in range(limit - 5)], concurrency=16)
    if statuses(first) != {202: limit - 5}:
        raise Fail("below the limit: %s" % fmt_statuses(statuses(first)))
    batch = sluice.request("POST", "/v1/events", [unique_event("batch") for _ in range(10)])
    if batch.status != 429 or batch.header("retry-after") != str(retry_after):
        raise Fail("a batch of 10 with room for 5 was answered %d (Retry-After %s)" % (batch.status, batch.header("retry-after")))
    # 5 more fit, then everything is 429; exactly `limit` accepted in total.
    extra = int(limit * 0.5)
    rest = post_many(sluice, [unique_event("q") for _ in range(5 + extra)], concurrency=16)
    counts = statuses(rest)
    if counts != {202: 5, 429: extra}:
        raise Fail("at the limit: expected 202=5 429=%d, got %s" % (extra, fmt_statuses(counts)))
    wrong_retry = [r for r in rest if r["status"] == 429 and r["retry_after"] != str(retry_after)]
    if wrong_retry:
        raise Fail("%d 429s without Retry-After: %d" % (len(wrong_retry), retry_after))
    pending = len(sluice.entries("state IN ('queued','retrying','loading','received')"))
    if pending != limit:
        raise Fail("the journal holds %d pending entries, expected %d" % (pending, limit))
    # Memory stays flat while refusing: RSS after a warm-up of refusals vs after many more.
    post_many(sluice, [unique_event("warm") for _ in range(500)], concurrency=16)
    rss_before = sluice.rss_kb()
    n_more = 2000 if ctx.quick else 10000
    more = post_many(sluice, [unique_event("more") for _ in range(n_more)], concurrency=16)
    rss_after = sluice.rss_kb()
    if statuses(more) != {429: n_more}:
        raise Fail("refusals: %s" % fmt_statuses(statuses(more)))
    growth = (rss_after - rss_before) / 1024.0
    if growth > 16:
        raise Fail("RSS grew %.1f MB over %d refused requests (%d -> %d kB)" % (growth, n_more, rss_before, rss_after))
    if sluice.stop() != 0:
        raise Fail("exit status not 0 after SIGTERM")
    return ("limit %d: 202=%d exactly, 429=%d (+%d refused after) all with Retry-After %d; batch of 10 with room for 5 "
            "refused whole; RSS %.1f -> %.1f MB over %d refusals" % (
                limit, limit, extra, n_more + 500, retry_after, rss_before / 1024, rss_after / 1024, n_more))


# MARK: burst with Connection: close

@scenario("burst-close", quick=True,
          summary="a new connection per event (EventBridge style): p99 < 1 s, only 2xx/429/503")
def burst_close(ctx):
    n = 1000 if ctx.quick else 5000
    concurrency = 48
    sluice = ctx.sluice("burst", {"journal": {"max_pending": 1000000}})
    sluice.start()
    key = ctx.sentinels.api_key

    async def burst():
        queue = asyncio.Queue()
        for _ in range(n):
            body = json.dumps(unique_event("burst")).encode()
            queue.put_nowait(b"POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                             b"x-api-key: %s\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % (key.encode(), len(body)) + body)
        results = []

        async def worker():
            while not queue.empty():
                data = queue.get_nowait()
                results.append(await raw_request("127.0.0.1", sluice.port, data, timeout=30))
        started = time.monotonic()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return results, time.monotonic() - started

    results, elapsed = asyncio.run(burst())
    counts = {}
    for status, _, _, error in results:
        counts[status or error] = counts.get(status or error, 0) + 1
    latencies = [seconds for _, _, seconds, _ in results]
    p50, p99, worst = percentile(latencies, 50), percentile(latencies, 99), max(latencies)
    bad = {k: v for k, v in counts.items() if not (isinstance(k, int) and (200 <= k < 300 or k in (429, 503)))}
    if sluice.stop() != 0:
        raise Fail("exit status not 0 after SIGTERM")
    figures = "%d requests, %d concurrent, %.0f req/s; %s; p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
        n, concurrency, n / elapsed, fmt_statuses(counts), p50 * 1000, p99 * 1000, worst * 1000)
    if bad:
        raise Fail("answers other than 2xx/429/503: %s; %s" % (fmt_statuses(bad), figures))
    if p99 >= 1.0:
        raise Fail("p99 %.0f ms >= 1 s; %s" % (p99 * 1000, figures))
    journaled = len(sluice.entries())
    if journaled != counts.get(202, 0):
        raise Fail("%d events answered 202 but the journal holds %d; %s" % (counts.get(202, 0), journaled, figures))
    return figures + "; all %d journaled" % journaled
