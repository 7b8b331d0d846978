#!/usr/bin/env bash
# Starts and stops a moto server (S3, SQS, STS, IAM emulator) on 127.0.0.1 for the tests.
#
#   scripts/servers/moto.sh start DIR [PORT] [--auth]
#   scripts/servers/moto.sh stop DIR
#
# start: PORT 0 (the default) picks a free port. Writes DIR/pid, DIR/port and DIR/moto.log,
# waits until the server answers, and prints the port.
#
# --auth: after start-up, creates (while moto still accepts unsigned requests) an IAM user
# whose policy allows only what Sluice needs (s3:GetObject and s3:ListBucket on bucket
# sluice-auth, the SQS consumer actions on queue sluice-auth-queue), a second bucket
# sluice-auth-denied holding one object, then switches moto's authentication on for every
# later request (moto's INITIAL_NO_AUTH_ACTION_COUNT mechanism, reset to 0). Writes
# DIR/auth.env with SLUICE_TEST_S3_AUTH_ENDPOINT, SLUICE_TEST_AUTH_ACCESS_KEY_ID and
# SLUICE_TEST_AUTH_SECRET_ACCESS_KEY for the tests. Requires moto[server] (and boto3, which it
# brings).
set -euo pipefail

usage() {
    echo "usage: $0 start DIR [PORT] [--auth] | stop DIR" >&2
    exit 2
}

pick_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() {
    local port=$1 pid=$2
    for _ in $(seq 1 150); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "moto exited during start-up; see its log" >&2
            return 1
        fi
        if python3 - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1).read()
PY
            return 0
        fi
        sleep 0.2
    done
    echo "moto did not answer on port $port within 30 s" >&2
    return 1
}

setup_auth() {
    local dir=$1 port=$2
    python3 - "$dir" "$port" <<'PY'
import json, sys, urllib.request
import boto3

directory, port = sys.argv[1], sys.argv[2]
endpoint = f"http://127.0.0.1:{port}"
common = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **common)
s3 = boto3.client("s3", **common)
sqs = boto3.client("sqs", **common)

s3.create_bucket(Bucket="sluice-auth")
s3.put_object(Bucket="sluice-auth", Key="allowed/object.bin", Body=b"0123456789abcdef" * 64)
s3.create_bucket(Bucket="sluice-auth-denied")
s3.put_object(Bucket="sluice-auth-denied", Key="secret.bin", Body=b"not for sluice")
queue = sqs.create_queue(QueueName="sluice-auth-queue")["QueueUrl"]
sqs.send_message(QueueUrl=queue, MessageBody="hello from setup")

policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::sluice-auth/*"},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::sluice-auth"},
        {"Effect": "Allow",
         "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:SendMessage", "sqs:GetQueueAttributes"],
         "Resource": "arn:aws:sqs:us-east-1:123456789012:sluice-auth-queue"},
    ],
}
iam.create_user(UserName="sluice")
iam.put_user_policy(UserName="sluice", PolicyName="sluice-least-privilege", PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName="sluice")["AccessKey"]

with open(f"{directory}/auth.env", "w") as out:
    out.write(f"SLUICE_TEST_S3_AUTH_ENDPOINT={endpoint}\n")
    out.write(f"SLUICE_TEST_AUTH_ACCESS_KEY_ID={key['AccessKeyId']}\n")
    out.write(f"SLUICE_TEST_AUTH_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")

# From now on every request must be signed by a known key and allowed by its policy.
request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
urllib.request.urlopen(request, timeout=5).read()
PY
}

start() {
    local dir=${1:-} port=0 auth=0
    [ -n "$dir" ] || usage
    shift
    for arg in "$@"; do
        case "$arg" in
            --auth) auth=1 ;;
            ''|*[!0-9]*) usage ;;
            *) port=$arg ;;
        esac
    done
    command -v moto_server >/dev/null || { echo "moto_server not found: pip install 'moto[server]'" >&2; exit 1; }
    mkdir -p "$dir"
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "moto already running with pid $(cat "$dir/pid")" >&2
        exit 1
    fi
    if [ "$port" = 0 ]; then port=$(pick_port); fi
    # Own session, so that stop can end moto and any worker it forks, and nothing else.
    setsid moto_server -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 < /dev/null &
    local pid=$!
    echo "$pid" >"$dir/pid"
    echo "$port" >"$dir/port"
    wait_ready "$port" "$pid" || { stop "$dir"; exit 1; }
    if [ "$auth" = 1 ]; then
        rm -f "$dir/auth.env"
        setup_auth "$dir" "$port" || { stop "$dir"; rm -f "$dir/auth.env"; exit 1; }
    fi
    echo "$port"
}

stop() {
    local dir=${1:-}
    [ -n "$dir" ] || usage
    [ -f "$dir/pid" ] || return 0
    local pid
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid" "$dir/port"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) usage ;;
esac
