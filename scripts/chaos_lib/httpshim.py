#!/usr/bin/env python3
"""An HTTP shim in front of moto's S3 or a ClickHouse server, for the reliability suite: records every request
and answers chosen ones the way the server does when things go wrong.

    python3 scripts/chaos_lib/httpshim.py [--upstream http://127.0.0.1:PORT] --record FILE --port-file FILE

Without --upstream every request is answered 404 NoSuchKey (a pure recorder). Rules are set with
`POST /__shim/rules` (a JSON list, first match wins) and read with `GET /__shim/rules`:

    {"match": REGEX over "METHOD /path?query", "times": N (optional),
     "action": "error",    "status": 403, "code": "AccessDenied", "message": "...", "echo_auth": false}
     "action": "truncate", "after_bytes": N      (headers promise the whole body; the connection closes after N)
     "action": "delay",    "ms": N               (then forward)
     "action": "replace",  "body_b64": ...       (forward, but first PUT this body over the object, once)
     "action": "raw",      "status": N, "body": TEXT, "headers": {...}      (answer this, forward nothing)
     "action": "forward_then", "status": N, "body": TEXT, "headers": {...} (forward, then answer this instead)

The regular expression also sees the request body (after a newline) when it is text, so ClickHouse
statements sent in the body can be matched.

`--auth-user U --auth-password P --auth-as V` (ClickHouse): requests as user U must carry password P in
X-ClickHouse-Key and are forwarded as user V without a password; a wrong password is answered with
ClickHouse's authentication error (code 516). This gives a server without writable user storage a user
with a chosen password.

`echo_auth` makes an error carry a <CanonicalRequest> with the signed headers' values, as S3's
SignatureDoesNotMatch does: a test that Sluice never repeats an S3 error body verbatim.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import http.server
import json
import os
import re
import socketserver
import threading
import urllib.parse
from xml.sax.saxutils import escape


class State:
    def __init__(self, upstream, record):
        self.upstream = urllib.parse.urlparse(upstream) if upstream else None
        self.record = record
        self.rules = []
        self.lock = threading.Lock()
        self.auth = None

    def take(self, line):
        with self.lock:
            for rule in self.rules:
                if re.search(rule["match"], line):
                    if rule.get("times") is not None:
                        if rule["times"] <= 0:
                            continue
                        rule["times"] -= 1
                    return dict(rule)
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"

    def log_message(self, *args):
        pass

    def _body(self):
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            del self.headers["transfer-encoding"]
            self.headers["content-length"] = str(len(out))
            return out
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        state = self.server.state
        body = self._body()
        if self.path.startswith("/__shim/"):
            if self.command == "POST" and self.path == "/__shim/rules":
                with state.lock:
                    state.rules = json.loads(body or b"[]")
            with state.lock:
                self._send(200, json.dumps(state.rules).encode(), [("content-type", "application/json")])
            return
        headers = sorted(k.lower() for k in self.headers.keys())

        def record(rule):
            with state.lock, open(state.record, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "host": self.headers.get("host"),
                                    "headers": headers, "rule": rule["action"] if rule else None}) + "\n")
        auth = state.auth
        if auth and self.headers.get("x-clickhouse-user") == auth[0]:
            if self.headers.get("x-clickhouse-key") != auth[1]:
                record(None)
                self._send(516, ("Code: 516. DB::Exception: %s: Authentication failed: password is incorrect, or there "
                                 "is no user with such name. (AUTHENTICATION_FAILED)\n" % auth[0]).encode(),
                           [("X-ClickHouse-Exception-Code", "516")])
                return
            del self.headers["x-clickhouse-user"]
            del self.headers["x-clickhouse-key"]
            self.headers["X-ClickHouse-User"] = auth[2]
        line = "%s %s\n%s" % (self.command, urllib.parse.unquote_plus(self.path), body[:65536].decode("utf-8", "replace"))
        rule = state.take(line)
        record(rule)
        if rule and rule["action"] == "error":
            self._error(rule)
            return
        if rule and rule["action"] == "raw":
            self._send(rule.get("status", 500), rule.get("body", "").encode(), list(rule.get("headers", {}).items()))
            return
        if state.upstream is None:
            self._error({"status": 404, "code": "NoSuchKey", "message": "The specified key does not exist."})
            return
        if rule and rule["action"] == "delay":
            threading.Event().wait(rule.get("ms", 1000) / 1000.0)
        if rule and rule["action"] == "replace":
            self._replace(base64.b64decode(rule["body_b64"]))
        status, headers, data = self._forward(self.command, self.path, body, dict(self.headers))
        if rule and rule["action"] == "forward_then":
            self._send(rule.get("status", 200), rule.get("body", "").encode(), list(rule.get("headers", {}).items()))
            return
        if rule and rule["action"] == "truncate":
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(data[:rule.get("after_bytes", 0)])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.command == "HEAD":
            # A HEAD answer keeps the object's length.
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.end_headers()
            return
        self._send(status, data, [(k, v) for k, v in headers
                                  if k.lower() not in ("content-length", "transfer-encoding", "connection")])

    def _replace(self, data):
        """Overwrites the (path-style) object with `data`, signed as S3 expects, so its ETag changes."""
        import boto3
        bucket, _, key = urllib.parse.unquote(self.path.split("?")[0]).lstrip("/").partition("/")
        up = self.server.state.upstream
        s3 = boto3.client("s3", endpoint_url="%s://%s" % (up.scheme, up.netloc), region_name="us-east-1",
                          aws_access_key_id="chaos", aws_secret_access_key="chaos")
        s3.put_object(Bucket=bucket, Key=key, Body=data)

    def _forward(self, method, path, body, headers):
        up = self.server.state.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        headers = {k: v for k, v in headers.items() if k.lower() not in ("connection",)}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, response.getheaders(), data

    def _error(self, rule):
        code = rule.get("code", "InternalError")
        extra = ""
        if rule.get("echo_auth"):
            signed = "\n".join("%s:%s" % (k.lower(), v.strip()) for k, v in sorted(self.headers.items())
                               if k.lower().startswith("x-amz-") or k.lower() == "host")
            extra = "<CanonicalRequest>%s\n%s\n\n%s</CanonicalRequest><StringToSign>AWS4-HMAC-SHA256</StringToSign>" % (
                escape(self.command), escape(self.path), escape(signed))
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>%s'
               "<RequestId>CHAOS0001</RequestId><HostId>chaos</HostId></Error>" % (
                   escape(code), escape(rule.get("message", code)), extra)).encode()
        headers = [("content-type", "application/xml"), ("x-amz-request-id", "CHAOS0001")]
        if rule.get("status", 500) == 503:
            headers.append(("retry-after", "1"))
        self._send(rule.get("status", 500), xml, headers)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream")
    parser.add_argument("--record", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth-user")
    parser.add_argument("--auth-password")
    parser.add_argument("--auth-as", default="default")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.upstream, args.record)
    if args.auth_user:
        server.state.auth = (args.auth_user, args.auth_password or "", args.auth_as)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
