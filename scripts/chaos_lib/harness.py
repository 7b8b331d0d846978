"""The reliability suite's harness: servers, the sluice process, HTTP clients, sentinels and the leak scan."""
from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUCKET = "chaos-curated"


def log(message: str):
    sys.stderr.write("    %s\n" % message)
    sys.stderr.flush()


class Skip(Exception):
    """A scenario that cannot run here (the reason is printed on its SKIP line)."""


class Fail(Exception):
    """A scenario whose pass criterion does not hold (the message is printed on its FAIL line)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` passes (raises Fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100.0 * (len(ordered) - 1)))))
    return ordered[k]


# MARK: sentinels and the leak scan

class Sentinels:
    """Secret values no output may ever contain. Each run draws new ones."""

    def __init__(self):
        tag = secrets.token_hex(8)
        self.api_key = "SNTLapikey" + tag + "Q"
        self.api_key_rotated = "SNTLapikey2" + tag + "R"
        self.aws_secret = "SNTLawssecret" + tag
        self.aws_token = "SNTLawstoken" + tag
        self.ch_password = "SNTLchpw" + tag
        self.ch_user = "chaos_" + tag[:8]

    def values(self):
        return {"auth.api_keys": self.api_key, "auth.api_keys[1]": self.api_key_rotated,
                "AWS_SECRET_ACCESS_KEY": self.aws_secret, "AWS_SESSION_TOKEN": self.aws_token,
                "clickhouse.password": self.ch_password}

    def scan(self, data: bytes):
        """The names of the secrets found in `data` (also URL- and JSON-escaped, and base64 of the key)."""
        found = []
        for name, value in self.values().items():
            # The value, URL-encoded, or its first 16 characters (a secret cut short still leaks).
            forms = {value.encode(), urllib.parse.quote(value, safe="").encode(), value[:16].encode()}
            if any(f in data for f in forms):
                found.append(name)
        return found


# MARK: HTTP

class Transcript:
    """Every response the suite received from sluice, for the leak scan."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def record(self, method, path, status, headers, body):
        with self.lock, open(self.path, "ab") as f:
            f.write(("%s %s -> %s\n" % (method, path, status)).encode())
            for k, v in headers:
                f.write(("%s: %s\n" % (k, v)).encode("latin-1", "replace"))
            f.write(body[:65536] + b"\n\n")


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "<%s %s>" % (self.status, self.body[:200])


def http_request(base, method, path, body=None, headers=None, timeout=30.0, transcript=None, conn=None):
    """One request; `base` is http://host:port. Returns a Response, or raises OSError on connection failures."""
    parsed = urllib.parse.urlparse(base)
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(headers or {})
        headers.setdefault("content-type", "application/json")
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        result = Response(response.status, response.getheaders(), data, time.monotonic() - started)
    except (http.client.HTTPException, OSError):
        conn.close()
        raise
    finally:
        if own:
            conn.close()
    if transcript is not None:
        transcript.record(method, path, result.status, result.headers, result.body)
    return result


class Client:
    """A keep-alive client for one thread."""

    def __init__(self, base, headers=None, transcript=None, timeout=30.0):
        self.base = base
        self.headers = headers or {}
        self.transcript = transcript
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        merged = dict(self.headers)
        merged.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                parsed = urllib.parse.urlparse(self.base)
                self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=self.timeout)
            try:
                return http_request(self.base, method, path, body, merged, self.timeout, self.transcript, self.conn)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn = None
                if attempt == 1:
                    raise
            except OSError:
                self.conn = None
                raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


async def raw_request(host, port, data: bytes, timeout=10.0, read_limit=1 << 20):
    """Sends raw bytes on a new connection and reads the answer; returns (status or None, bytes, seconds, error)."""
    started = time.monotonic()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(data)
        await writer.drain()
        out = b""
        while len(out) < read_limit:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if m and len(rest) >= int(m.group(1)):
                    break
        status = None
        m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
        if m:
            status = int(m.group(1))
        return status, out, time.monotonic() - started, None
    except (OSError, asyncio.TimeoutError) as error:
        return None, b"", time.monotonic() - started, type(error).__name__
    finally:
        if writer is not None:
            try:
                writer.close()
            except (OSError, RuntimeError):
                pass


# MARK: events

def object_event(key, size=4096, etag=None, bucket=BUCKET, event_id=None, version_id=None):
    """An EventBridge "Object Created" event, as an API destination sends it."""
    event_id = event_id or str(uuid.uuid4())
    obj = {"key": key, "size": size, "etag": etag or hashlib.md5(key.encode()).hexdigest(),
           "sequencer": "%016X" % (int(time.time() * 1e6))}
    if version_id:
        obj["version-id"] = version_id
    return {
        "version": "0", "id": event_id, "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": "us-east-1",
        "resources": ["arn:aws:s3:::%s" % bucket],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj, "request-id": "C3D13FE58DE4C810",
                   "requester": "123456789012", "source-ip-address": "10.0.0.1", "reason": "PutObject"},
    }


# MARK: servers

class ClickHouse:
    """A local ClickHouse server started by scripts/servers (18.16 or chdb's 26.9)."""

    def __init__(self, name, directory, port):
        self.name = name
        self.directory = directory
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.users = {}

    def pid(self):
        with open(os.path.join(self.directory, "pid")) as f:
            return int(f.read().strip())

    def query(self, sql, user="default", password="", timeout=60, check=True):
        request = urllib.request.Request(self.url + "/", data=sql.encode(), method="POST",
                                         headers={"X-ClickHouse-User": user, "X-ClickHouse-Key": password})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read().decode()
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            if check:
                raise Fail("%s: %s failed: %s" % (self.name, sql[:80], text.strip()[:300]))
            return text

    def pause(self):
        os.kill(self.pid(), signal.SIGSTOP)

    def resume(self):
        os.kill(self.pid(), signal.SIGCONT)

    def ensure_user(self, user, password):
        """A user with every right and `password`, for the sentinel runs (26.9: through the auth shim)."""
        if self.users.get(user) == password:
            return
        if self.name == "ch26":
            if self.query("SELECT 1", user=user, password=password, check=False).strip() != "1":
                raise Fail("ClickHouse 26.9's auth shim does not accept the chaos user")
        else:
            users_xml = os.path.join(self.directory, "users.xml")
            with open(users_xml) as f:
                text = f.read()
            entry = ("<%s><password>%s</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
                     "<profile>default</profile><quota>default</quota></%s>" % (user, password, user))
            if "<%s>" % user not in text:
                text = text.replace("<users>", "<users>\n        " + entry, 1)
                with open(users_xml + ".tmp", "w") as f:
                    f.write(text)
                os.replace(users_xml + ".tmp", users_xml)
                # The server notices a change by modification time in whole seconds: make it differ.
                later = time.time() + 2
                os.utime(users_xml, (later, later))
            # 18.16 rereads users.xml within a few seconds.
            wait_for(lambda: self.query("SELECT 1", user=user, password=password, check=False).strip() == "1",
                     30, 0.5, "ClickHouse 18.16 to load the chaos user")
        self.users[user] = password

    def version(self):
        return self.query("SELECT version()").strip()


class Servers:
    """Starts ClickHouse 18.16, ClickHouse 26.9 and moto on first use; stops them at the end."""

    def __init__(self, work, sentinels):
        self.work = work
        self.sentinels = sentinels
        self.started = {}
        self.helpers = []

    def _script(self, name, *args):
        script = os.path.join(ROOT, "scripts", "servers", name)
        result = subprocess.run([script, *args], capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise Skip("%s could not start: %s" % (name, (result.stderr or result.stdout).strip()[-300:]))
        return result.stdout.strip().splitlines()[-1]

    def clickhouse(self, version):
        key = "ch18" if version in ("18", "ch18") else "ch26"
        if key not in self.started:
            directory = os.path.join(self.work, "servers", key)
            log("starting %s" % key)
            port = int(self._script("ch18.sh" if key == "ch18" else "chdb.sh", "start", directory))
            server = ClickHouse(key, directory, port)
            if key == "ch26":
                # chdb has no writable user storage: a shim gives it the sentinel-password user.
                port_file = os.path.join(self.work, "servers", "ch26-auth.port")
                if os.path.exists(port_file):
                    os.unlink(port_file)
                shim = Process([sys.executable, os.path.join(HERE, "httpshim.py"), "--upstream", server.url,
                                "--record", os.devnull, "--port-file", port_file, "--auth-user", self.sentinels.ch_user,
                                "--auth-password", self.sentinels.ch_password], os.path.join(self.work, "servers", "ch26-auth.log"))
                self.helpers.append(shim)
                wait_for(lambda: os.path.exists(port_file), 20, 0.05, "the ClickHouse auth shim")
                server = ClickHouse(key, directory, int(open(port_file).read()))
                server.direct_port = port
            self.started[key] = server
        return self.started[key]

    def moto(self):
        if "moto" not in self.started:
            directory = os.path.join(self.work, "servers", "moto")
            log("starting moto")
            port = int(self._script("moto.sh", "start", directory))
            self.started["moto"] = Moto("http://127.0.0.1:%d" % port, directory)
        return self.started["moto"]

    def stop(self):
        for helper in self.helpers:
            helper.stop()
        self.helpers = []
        for key, server in self.started.items():
            script = {"ch18": "ch18.sh", "ch26": "chdb.sh", "moto": "moto.sh"}[key]
            directory = server.directory
            try:
                os.kill(server.pid(), signal.SIGCONT)
            except (OSError, AttributeError, ValueError):
                pass
            subprocess.run([os.path.join(ROOT, "scripts", "servers", script), "stop", directory],
                           capture_output=True, timeout=120)
        self.started = {}


class Moto:
    """The moto server: S3 and SQS through boto3."""

    def __init__(self, endpoint, directory):
        self.endpoint = endpoint
        self.directory = directory
        self._s3 = None
        self._sqs = None

    def pid(self):
        with open(os.path.join(self.directory, "pid")) as f:
            return int(f.read().strip())

    def client(self, service, endpoint=None):
        import boto3
        return boto3.client(service, endpoint_url=endpoint or self.endpoint, region_name="us-east-1",
                            aws_access_key_id="chaos", aws_secret_access_key="chaos")

    @property
    def s3(self):
        if self._s3 is None:
            self._s3 = self.client("s3")
        return self._s3

    @property
    def sqs(self):
        if self._sqs is None:
            self._sqs = self.client("sqs")
        return self._sqs

    def bucket(self, name):
        try:
            self.s3.create_bucket(Bucket=name)
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        return name

    def put(self, bucket, key, data: bytes):
        """Uploads; returns the ETag without quotes."""
        return self.s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')


# MARK: processes

class Process:
    """A helper process (fault proxy, S3 shim) started by the suite."""

    def __init__(self, args, log_path, env=None):
        self.log_file = open(log_path, "ab")
        self.process = subprocess.Popen(args, stdout=self.log_file, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


class Proxy(Process):
    """A fault proxy (faultproxy.py) in its own process, controlled over its HTTP API."""

    def __init__(self, ctx, upstream_port, name="proxy", tls=None):
        port_file = os.path.join(ctx.dir, name + ".ports")
        if os.path.exists(port_file):
            os.unlink(port_file)
        args = [sys.executable, os.path.join(HERE, "faultproxy.py"), "--upstream", "127.0.0.1:%d" % upstream_port,
                "--port-file", port_file]
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        super().__init__(args, os.path.join(ctx.dir, name + ".log"))
        wait_for(lambda: os.path.exists(port_file), 20, 0.05, "the fault proxy to listen")
        with open(port_file) as f:
            self.port, self.control_port = map(int, f.read().split())
        ctx.cleanup.append(self.stop)

    def rule(self, **fields):
        return self._post("/rule", fields)

    def reset(self):
        return self._post("/reset", {})

    def drop(self):
        return self._post("/drop", {})

    def state(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/" % self.control_port, timeout=10) as r:
            return json.loads(r.read())

    def _post(self, path, body):
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (self.control_port, path),
                                         data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())


class Sluice:
    """`sluice serve` with a configuration written for one scenario, its secrets given as sentinels."""

    def __init__(self, ctx, name, config: dict, env=None, wrapper=None, journal=None, auth=True):
        self.ctx = ctx
        self.name = name
        self.dir = os.path.join(ctx.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.journal = journal or os.path.join(self.dir, "journal.db")
        base = {
            "http": {"host": "127.0.0.1", "port": 0, "drain_seconds": 1},
            "intake": {"bucket": BUCKET, "min_size": 1024, "domains": ["chaos"]},
            "domains": {"chaos": {"prefix": "chaos/", "database": "chaos", "priority": "high", "batch_min": 1,
                                  "batch_max": 10}},
            "journal": {"path": self.journal},
            "loader": {"workers": 0},
            "log": {"level": "info", "format": "json"},
        }
        self.config = merge(base, config)
        self.config_path = os.path.join(self.dir, "sluice.yaml")
        with open(self.config_path, "w") as f:
            yaml.safe_dump(self.config, f, sort_keys=False)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AWS_"))}
        self.env.update({"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": ctx.sentinels.aws_secret,
                         "AWS_SESSION_TOKEN": ctx.sentinels.aws_token, "AWS_REGION": "us-east-1",
                         "AWS_EC2_METADATA_DISABLED": "true"})
        self.auth = auth
        if auth:
            self.env["SLUICE_AUTH_API_KEYS"] = ctx.sentinels.api_key + "," + ctx.sentinels.api_key_rotated
        self.env.update(env or {})
        self.wrapper = wrapper or []
        self.process = None
        self.port = None
        self.url = None
        self.runs = 0
        ctx.sluices.append(self)

    @property
    def log_path(self):
        return os.path.join(self.dir, "sluice-%d.log" % self.runs)

    def start(self, wait=True, timeout=60):
        self.runs += 1
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.wrapper + [self.ctx.binary, "serve", "--config", self.config_path],
                                        stdout=self.log_file, stderr=subprocess.STDOUT, env=self.env,
                                        start_new_session=True)
        self.port = None
        if wait:
            self.wait_listening(timeout)
        return self

    def wait_listening(self, timeout=60):
        def listening():
            text = self.log_text()
            m = re.search(r'"msg":"listening".*?"port":"?(\d+)', text) or re.search(r'"port":"?(\d+)"?[^\n]*"msg":"listening"', text)
            if m:
                return int(m.group(1))
            if self.process.poll() is not None:
                raise Fail("%s: sluice serve exited with %s before listening: %s" %
                           (self.name, self.process.returncode, text.strip()[-500:]))
            return None
        self.port = wait_for(listening, timeout, 0.05, "sluice to listen")
        self.url = "http://127.0.0.1:%d" % self.port
        return self.port

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def headers(self):
        return {"x-api-key": self.ctx.sentinels.api_key} if self.auth else {}

    def client(self, timeout=30.0):
        return Client(self.url, self.headers(), self.ctx.transcript, timeout)

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        merged = self.headers()
        merged.update(headers or {})
        return http_request(self.url, method, path, body, merged, timeout, self.ctx.transcript)

    def post_event(self, event, client=None):
        if client is not None:
            return client.request("POST", "/v1/events", event)
        return self.request("POST", "/v1/events", event)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.pid()) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def hwm_kb(self):
        try:
            with open("/proc/%d/status" % self.pid()) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def pid(self):
        """The sluice process itself (under a wrapper such as strace, the wrapper's child)."""
        if not self.wrapper:
            return self.process.pid
        pid = self.process.pid
        for _ in range(50):
            try:
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    children = f.read().split()
            except OSError:
                return self.process.pid
            if children:
                return int(children[0])
            time.sleep(0.05)
        return self.process.pid

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid(), sig)

    def kill9(self):
        if self.alive():
            self.process.kill()
            self.process.wait()
        self._closed()

    def wait(self, timeout=60):
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._closed()
        return code

    def stop(self, timeout=60):
        """SIGTERM and wait; SIGKILL after `timeout`. Returns the exit status."""
        if self.process is None:
            return None
        if self.alive():
            self.capture_ops()
            os.kill(self.pid(), signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._closed()
        return self.process.returncode

    def _closed(self):
        try:
            self.log_file.close()
        except (AttributeError, OSError):
            pass

    def capture_ops(self):
        """Reads the operations endpoints and every dead letter into the transcript (for the leak scan)."""
        if not self.alive() or self.url is None:
            return
        try:
            for path in ("/health", "/ready", "/metrics", "/v1/dlq?limit=1000", "/v1/loads?limit=1000"):
                response = self.request("GET", path, timeout=10)
                if path.startswith("/v1/dlq") and response.status == 200:
                    for letter in (response.json() or {}).get("dead_letters", [])[:200]:
                        self.request("GET", "/v1/dlq/%s" % letter["id"], timeout=10)
        except (OSError, http.client.HTTPException):
            pass

    def journal_rows(self, table, where="1=1"):
        """Rows of one of the journal's tables (read-only; the file may be open by sluice)."""
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % self.journal, uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM %s WHERE %s" % (table, where))]
        finally:
            db.close()

    def entries(self, where="1=1"):
        """Rows of the journal's entries table."""
        return self.journal_rows("entries", where)

    def dead_letters(self):
        return self.journal_rows("dead_letters")

    def metric(self, name, **labels):
        """The sum of a metric's samples whose labels include `labels`."""
        text = self.request("GET", "/metrics", timeout=10).body.decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            if head != name and not head.startswith(name + "{"):
                continue
            if all('%s="%s"' % (k, v) in head for k, v in labels.items()):
                total += float(value)
        return total


def merge(base, override):
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


class Context:
    """What one scenario gets: its directory, the servers, the binary, the sentinels and its cleanups."""

    def __init__(self, suite, name):
        self.suite = suite
        self.name = name
        self.quick = suite.quick
        self.binary = suite.binary
        self.servers = suite.servers
        self.sentinels = suite.sentinels
        self.dir = os.path.join(suite.work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.transcript = Transcript(os.path.join(self.dir, "responses.txt"))
        self.sluices = []
        self.cleanup = []
        self.scan_paths = []

    def sluice(self, name, config=None, **kwargs):
        return Sluice(self, name, config or {}, **kwargs)

    def finish(self):
        for sluice in self.sluices:
            try:
                sluice.stop(timeout=30)
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        for action in reversed(self.cleanup):
            try:
                action()
            except Exception:  # noqa: BLE001
                pass

    def leaks(self):
        """Sentinel occurrences in everything sluice said: logs, responses, journal files (DLQ included)."""
        found = {}
        paths = [self.transcript.path] + self.scan_paths
        for sluice in self.sluices:
            for run in range(1, sluice.runs + 1):
                paths.append(os.path.join(sluice.dir, "sluice-%d.log" % run))
            for suffix in ("", "-wal"):
                paths.append(sluice.journal + suffix)
        for path in paths:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for name in self.sentinels.scan(data):
                found.setdefault(name, []).append(os.path.relpath(path, self.dir))
        return found


class HTTPShim(Process):
    """httpshim.py: records requests and answers chosen ones with S3's or ClickHouse's errors; forwards the rest."""

    def __init__(self, ctx, upstream=None, name="shim"):
        port_file = os.path.join(ctx.dir, name + ".port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.record = os.path.join(ctx.dir, name + ".requests.jsonl")
        args = [sys.executable, os.path.join(HERE, "httpshim.py"), "--record", self.record, "--port-file", port_file]
        if upstream:
            args += ["--upstream", upstream]
        super().__init__(args, os.path.join(ctx.dir, name + ".log"))
        wait_for(lambda: os.path.exists(port_file), 20, 0.05, "the HTTP shim to listen")
        with open(port_file) as f:
            self.port = int(f.read())
        self.endpoint = "http://127.0.0.1:%d" % self.port
        ctx.cleanup.append(self.stop)

    def rules(self, rules):
        request = urllib.request.Request(self.endpoint + "/__shim/rules", data=json.dumps(rules).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())

    def requests(self):
        try:
            with open(self.record) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


def run_cli(ctx, args, env=None, timeout=120, config=None, name="cli", config_flag=True):
    """Runs a sluice subcommand with the sentinel environment; returns (exit status, stdout, stderr).

    stdout and stderr are kept in the scenario directory, so the leak scan reads them too."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AWS_"))}
    environment.update({"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": ctx.sentinels.aws_secret,
                        "AWS_SESSION_TOKEN": ctx.sentinels.aws_token, "AWS_REGION": "us-east-1",
                        "AWS_EC2_METADATA_DISABLED": "true"})
    environment.update(env or {})
    command = [ctx.binary] + args
    if config is not None:
        path = os.path.join(ctx.dir, "%s-%d.yaml" % (name, len(ctx.scan_paths)))
        with open(path, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        command += ["--config", path] if config_flag else [path]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
    out = os.path.join(ctx.dir, "%s-%d.out" % (name, len(ctx.scan_paths)))
    with open(out, "w") as f:
        f.write("$ %s\n%s\n--- stderr\n%s" % (" ".join(command), result.stdout, result.stderr))
    ctx.scan_paths.append(out)
    return result.returncode, result.stdout, result.stderr
