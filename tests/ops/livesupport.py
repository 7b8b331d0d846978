"""A real `sluice serve` for the deployment tests, and the real servers it loads with.

`start_sluice` runs the binary with deploy/sluice.yaml as its configuration file (environment variables
override keys, as in a deployment). `Pipeline` builds one test world on the servers the project's test command
starts (moto for S3 and SQS, ClickHouse 26.9): a bucket, the domains' databases, SQS queues, and a Sluice
configured for them, with ClickHouse reached through `TcpProxy` so that a test can cut it off.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import DEPLOY

API_KEY = "ops-test-key-0123456789abcdef"
AWS_ENV = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDOPSTEST", "AWS_SECRET_ACCESS_KEY": "ops-test-secret",
           "AWS_EC2_METADATA_DISABLED": "true"}


def clean_environment() -> dict:
    """The process environment without SLUICE_* and AWS_* variables, so that only what a test sets applies."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AWS_"))}


class Server:
    """A running `sluice serve`."""

    def __init__(self, process: subprocess.Popen, port: int, log: list[str]):
        self.process = process
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def request(self, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict]:
        status, _, raw = self.request(method, path, body, headers)
        return status, json.loads(raw)

    def api(self, method: str, path: str, body=None) -> tuple[int, dict]:
        """A /v1/ request with the API key."""
        return self.json(method, path, body, {"x-api-key": API_KEY})

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit status (SIGKILL after the timeout)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"sluice serve did not exit within {timeout} s of SIGTERM")


def start_sluice(binary: str, env: dict, config: Path = DEPLOY / "sluice.yaml") -> Server:
    """Starts `sluice serve --config CONFIG` with `env` and waits for the port it reports."""
    process = subprocess.Popen([binary, "serve", "--config", str(config)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump():
        for line in process.stderr:
            log.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        match = re.search(r'"msg":"listening".*"port":"?(\d+)', line)
        if match:
            return Server(process, int(match.group(1)), log)
    process.kill()
    process.wait()
    pytest.fail("sluice serve did not report its port:\n" + "".join(log))


def wait_for(what: str, probe, timeout: float, interval: float = 0.1):
    """Calls probe() until it returns a true value (returned) or the timeout passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


# ---------------------------------------------------------------------------------------------------------------
# A cut-off switch for ClickHouse


class TcpProxy:
    """Forwards 127.0.0.1:port to an upstream; `down()` closes every connection and refuses new ones."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.is_up = True
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                up = self.is_up
            if not up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update({client, server})
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self):
        with self.lock:
            self.is_up = False
            open_sockets, self.sockets = self.sockets, set()
        for s in open_sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def up(self):
        with self.lock:
            self.is_up = True

    def close(self):
        self.closed = True
        self.down()
        self.listener.close()


# ---------------------------------------------------------------------------------------------------------------
# The servers


def servers_or_skip() -> tuple[str, str]:
    """moto's and ClickHouse 26.9's URLs, from the test command's environment."""
    s3 = os.environ.get("SLUICE_TEST_S3_ENDPOINT")
    clickhouse = os.environ.get("SLUICE_TEST_CH26_URL")
    if not s3 or not clickhouse:
        reason = "moto and ClickHouse 26.9 are not running (SLUICE_TEST_S3_ENDPOINT, SLUICE_TEST_CH26_URL; scripts/test starts them)"
        if os.environ.get("SLUICE_REQUIRE_SERVERS") == "1":
            pytest.fail(reason + ", and SLUICE_REQUIRE_SERVERS=1")
        pytest.skip(reason)
    try:
        import pyarrow  # noqa: F401
        import botocore  # noqa: F401
    except ImportError as error:
        if os.environ.get("SLUICE_REQUIRE_SERVERS") == "1":
            pytest.fail(f"the live load tests need pyarrow and botocore: {error}")
        pytest.skip(f"the live load tests need pyarrow and botocore: {error}")
    return s3, clickhouse


class ClickHouse:
    """ClickHouse over HTTP, for the test's own statements."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def run(self, sql: str) -> str:
        request = urllib.request.Request(self.url + "/", data=sql.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read().decode()
        except urllib.error.HTTPError as error:
            raise AssertionError(f"ClickHouse refused {sql!r}: {error.read().decode()[:500]}") from None


def parquet_file(ds: str, rows: int, seed: int) -> bytes:
    """A Parquet file of `rows` rows for the prices table: ds Date, symbol String, price Float64, volume Int64."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    day = datetime.date.fromisoformat(ds)
    table = pa.table({
        "ds": pa.array([day] * rows, pa.date32()),
        "symbol": pa.array([f"SYM{rng.randrange(1000):03d}" for _ in range(rows)], pa.string()),
        "price": pa.array([rng.uniform(1, 500) for _ in range(rows)], pa.float64()),
        "volume": pa.array([rng.randrange(1, 10**9) for _ in range(rows)], pa.int64()),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


PRICES_DDL = "(ds Date, symbol String, price Float64, volume Int64) ENGINE = MergeTree PARTITION BY ds ORDER BY (symbol, volume)"


def eventbridge_event(bucket: str, key: str, size: int, etag: str | None = None) -> dict:
    """An S3 "Object Created" event as EventBridge delivers it (the time is now, so latency is real)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag or uuid.uuid4().hex, "sequencer": "0062E99A88DC407460"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "111122223333",
            "reason": "PutObject",
        },
    }


def json_path(event: dict, path: str):
    value = event
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def transform(transformer: dict, event: dict) -> dict:
    """EventBridge's input transformer: each <variable> of the template replaced by its JSON path's value.

    Inside quotes a string is inserted escaped, unquoted a value is inserted as JSON.
    """
    template = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value = json_path(event, path)
        quoted = f'"<{name}>"'
        if quoted in template:
            template = template.replace(quoted, json.dumps(value if isinstance(value, str) else json.dumps(value)))
        template = template.replace(f"<{name}>", json.dumps(value))
    assert not re.search(r"<[a-z.-]+>", template), template
    return json.loads(template)


def sqs_transformer(cfn: dict, domain: str) -> dict:
    """The input transformer of the domain's rule (its SQS target)."""
    for resource in cfn["Resources"].values():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        target = resource["Properties"]["Targets"][0]["Fn::If"][1]
        template = target["InputTransformer"]["InputTemplate"]
        if f'"domain":"{domain}"' in template:
            return target["InputTransformer"]
    raise AssertionError(f"no rule for domain {domain}")


class Pipeline:
    """A bucket, the domains' databases and two SQS queues on the test servers, and a Sluice serving them
    from deploy/sluice.yaml with the deployment's kind of environment overrides."""

    def __init__(self, binary: str, s3_endpoint: str, clickhouse_url: str, tmp: Path):
        import botocore.config
        import botocore.session

        self.binary = binary
        self.s3_endpoint = s3_endpoint
        self.clickhouse = ClickHouse(clickhouse_url)
        self.tmp = tmp
        suffix = uuid.uuid4().hex[:10]
        self.bucket = f"ops-{suffix}"
        self.prefix = f"ops_{suffix}"
        self.databases = {d: f"{self.prefix}_{d}" for d in ("market", "customer", "product", "analytics")}
        session = botocore.session.get_session()
        credentials = {"aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"]}
        self.s3 = session.create_client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                                        config=botocore.config.Config(s3={"addressing_style": "path"}), **credentials)
        self.sqs = session.create_client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1", **credentials)
        self.s3.create_bucket(Bucket=self.bucket)
        self.load_queue = self.sqs.create_queue(QueueName=f"ops-{suffix}-market-load-queue")["QueueUrl"]
        self.dead_letter_queue = self.sqs.create_queue(QueueName=f"ops-{suffix}-sluice-dead-letters")["QueueUrl"]
        for database in self.databases.values():
            self.clickhouse.run(f"CREATE DATABASE IF NOT EXISTS {database}")
        host, port = urllib.parse.urlsplit(clickhouse_url).hostname, urllib.parse.urlsplit(clickhouse_url).port
        self.proxy = TcpProxy((host, port))
        self.server: Server | None = None

    def environment(self) -> dict:
        """What a deployment sets (bucket, ClickHouse, queues, secrets), plus what makes a test quick: no batch
        wait, 1 s backoffs, short SQS polls and lease renewals."""
        env = clean_environment() | AWS_ENV | {
            "AWS_ENDPOINT_URL_SQS": self.s3_endpoint,
            "SLUICE_HTTP_HOST": "127.0.0.1",
            "SLUICE_HTTP_PORT": "0",
            "SLUICE_HTTP_DRAIN_SECONDS": "0",
            "SLUICE_JOURNAL_PATH": str(self.tmp / "journal" / "sluice.db"),
            "SLUICE_AUTH_API_KEYS": API_KEY,
            "SLUICE_INTAKE_BUCKET": self.bucket,
            "SLUICE_CLICKHOUSE_URL": f"http://127.0.0.1:{self.proxy.port}",
            "SLUICE_CLICKHOUSE_USER": "default",
            "SLUICE_S3_ENDPOINT": self.s3_endpoint,
            "SLUICE_S3_PATH_STYLE": "true",
            "SLUICE_SQS_QUEUE_URLS": self.load_queue,
            "SLUICE_SQS_WAIT_TIME_S": "1",
            "SLUICE_SQS_EXTEND_INTERVAL_S": "1",
            "SLUICE_DLQ_SQS_QUEUE_URL": self.dead_letter_queue,
            "SLUICE_LOADER_BATCH_WAIT_S": "0",
            "SLUICE_LOADER_POLL_INTERVAL_MS": "50",
            "SLUICE_LOADER_RETRY_CONNECTION_BACKOFF_S": "1,1,1",
        }
        for domain, database in self.databases.items():
            env[f"SLUICE_DOMAINS_{domain.upper()}_DATABASE"] = database
        return env

    def start(self) -> Server:
        self.server = start_sluice(self.binary, self.environment())
        return self.server

    def table(self, name: str, domain: str = "market"):
        self.clickhouse.run(f"CREATE TABLE IF NOT EXISTS {self.databases[domain]}.{name} {PRICES_DDL}")

    def put(self, key: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)["ETag"].strip('"')

    def upload(self, key: str, ds: str, rows: int = 200, seed: int = 0) -> dict:
        """Uploads a prices file and returns its EventBridge event."""
        body = parquet_file(ds, rows, seed)
        etag = self.put(key, body)
        return eventbridge_event(self.bucket, key, len(body), etag)

    def push(self, event: dict) -> dict:
        assert self.server is not None
        status, body = self.server.api("POST", "/v1/events", event)
        assert status == 202 and body["status"] == "queued", (status, body)
        return body

    def load(self, correlation_id: str) -> dict:
        assert self.server is not None
        status, body = self.server.api("GET", f"/v1/loads/{correlation_id}")
        return body if status == 200 else {}

    def wait_for_state(self, correlation_id: str, states: set[str], timeout: float = 30) -> dict:
        return wait_for(f"load {correlation_id} to reach {sorted(states)}",
                        lambda: (lambda load: load if load.get("status") in states else None)(self.load(correlation_id)), timeout)

    def dead_letter(self, correlation_id: str) -> dict:
        assert self.server is not None
        status, body = self.server.api("GET", "/v1/dlq?limit=1000")
        assert status == 200, body
        letters = [d for d in body["dead_letters"] if d["correlation_id"] == correlation_id]
        assert len(letters) == 1, body
        return letters[0]

    def queue_counts(self, url: str) -> tuple[int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def close(self):
        try:
            if self.server is not None and self.server.process.poll() is None:
                self.server.stop()
        finally:
            self.proxy.close()
            for database in self.databases.values():
                try:
                    self.clickhouse.run(f"DROP DATABASE IF EXISTS {database}")
                except AssertionError:
                    pass
            for url in (self.load_queue, self.dead_letter_queue):
                try:
                    self.sqs.delete_queue(QueueUrl=url)
                except Exception:
                    pass
            try:
                for item in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
                    self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
                self.s3.delete_bucket(Bucket=self.bucket)
            except Exception:
                pass


# ---------------------------------------------------------------------------------------------------------------
# The scenario every live check reads from


class Scenario:
    """What `run_scenario` did, for the tests to check."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.server: Server = pipeline.server
        self.ready: dict = {}
        self.loads: dict[str, dict] = {}
        self.dead_letters: dict[str, dict] = {}
        self.forwarded: list[dict] = []
        self.duplicate: dict = {}
        self.seconds: dict[str, float] = {}


def run_scenario(pipeline: Pipeline, cfn: dict) -> Scenario:
    """Real loads through every path a deployment uses, with one failure of each kind the dashboard shows.

    - push: an EventBridge event on /v1/events, loaded into market.prices;
    - SQS: the market rule's transformed message on the market load queue, loaded, then deleted;
    - E003: a file for a table that does not exist: dead-lettered at once, forwarded to the SQS dead-letter
      queue (two more such files are left for the documentation's DLQ commands to fix and replay);
    - E004: ClickHouse cut off during a load: the attempt fails and is retried, and loads once it is back;
    - a redelivered event: `duplicate`.
    """
    started = time.monotonic()
    server = pipeline.start()
    scenario = Scenario(pipeline)
    mark = lambda name: scenario.seconds.__setitem__(name, round(time.monotonic() - started, 2))  # noqa: E731

    # /ready is 200 only once ClickHouse and S3 answer.
    def ready():
        status, body = server.json("GET", "/ready")
        return body if status == 200 else None
    scenario.ready = wait_for("/ready to answer 200 with ClickHouse and S3 up", ready, timeout=30, interval=0.25)
    mark("ready")

    pipeline.table("prices")
    pushed = pipeline.upload("market/prices/ds=2025-09-10/part-001.parquet", "2025-09-10", seed=1)
    pipeline.push(pushed)

    via_sqs = pipeline.upload("market/prices/ds=2025-09-11/part-002.parquet", "2025-09-11", seed=2)
    message = transform(sqs_transformer(cfn, "market"), via_sqs)
    pipeline.sqs.send_message(QueueUrl=pipeline.load_queue, MessageBody=json.dumps(message))

    missing = {}
    for table in ("no_such_table", "replayed_a", "replayed_b"):
        missing[table] = pipeline.upload(f"market/{table}/ds=2025-09-10/part-001.parquet", "2025-09-10", seed=3)
        pipeline.push(missing[table])

    scenario.loads["push"] = pipeline.wait_for_state(pushed["id"], {"loaded", "dead_lettered"})
    scenario.loads["sqs"] = pipeline.wait_for_state(via_sqs["id"], {"loaded", "dead_lettered"})
    for table, event in missing.items():
        scenario.loads[table] = pipeline.wait_for_state(event["id"], {"loaded", "dead_lettered"})
        scenario.dead_letters[table] = pipeline.dead_letter(event["id"]) if scenario.loads[table].get("status") == "dead_lettered" else {}
    mark("loaded and dead-lettered")

    # ClickHouse unreachable: a connection error (E004) is retried after its backoff.
    pipeline.proxy.down()
    retried = pipeline.upload("market/prices/ds=2025-09-12/part-003.parquet", "2025-09-12", seed=4)
    try:
        pipeline.push(retried)
        scenario.loads["retrying"] = pipeline.wait_for_state(retried["id"], {"retrying", "loaded", "dead_lettered"}, timeout=30)
    finally:
        pipeline.proxy.up()
    scenario.loads["retried"] = pipeline.wait_for_state(retried["id"], {"loaded", "dead_lettered"}, timeout=30)
    mark("retried")

    status, scenario.duplicate = server.api("POST", "/v1/events", pushed)
    scenario.duplicate["http_status"] = status

    # The SQS message is deleted once its insert committed (at the next lease renewal).
    scenario.loads["sqs_queue_after"] = {"counts": wait_for("the load queue to be empty", lambda: (lambda c: c if c == (0, 0) else None)(pipeline.queue_counts(pipeline.load_queue)), timeout=15, interval=0.25)}

    def forwarded():
        for m in pipeline.sqs.receive_message(QueueUrl=pipeline.dead_letter_queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
            scenario.forwarded.append(json.loads(m["Body"]))
        return len(scenario.forwarded) >= len(missing)
    try:
        wait_for("the dead letters to reach dlq.sqs_queue_url", forwarded, timeout=10, interval=0.25)
    except AssertionError:
        pass  # the test on forwarding reports what arrived
    mark("done")
    scenario.events = {"push": pushed, "sqs": via_sqs, "retried": retried, **missing}
    scenario.message = message
    return scenario
