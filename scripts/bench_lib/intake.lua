-- wrk script for `scripts/bench intake`.
--
--   wrk ... -s intake.lua URL -- MODE RUN_ID [close]
--
-- MODE "events": POST /v1/events with a unique EventBridge "Object Created" event per request (bucket
-- data-pipeline-curated-dev, key market/prices/ds=2025-09-10/bench-RUN_ID-THREAD-N.parquet, unique etag and
-- sequencer), so every accepted event is a new queued entry, never a duplicate.
-- MODE "health": GET /health, the in-run baseline (same wrk settings, same script overhead).
-- "close" adds `Connection: close`, so every request opens a new connection.
--
-- At the end it prints one line `RESULT {json}` with the status counts over all threads and wrk's latency
-- percentiles in microseconds.

local threads = {}
local next_id = 1

function setup(thread)
    thread:set("tid", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

local template = '{"version":"0","id":"%s","detail-type":"Object Created","source":"aws.s3",'
    .. '"account":"111122223333","time":"2025-09-10T00:00:00Z","region":"us-east-1",'
    .. '"resources":["arn:aws:s3:::data-pipeline-curated-dev"],"detail":{"version":"0",'
    .. '"bucket":{"name":"data-pipeline-curated-dev"},"object":{"key":"market/prices/ds=2025-09-10/%s.parquet",'
    .. '"size":1048576,"etag":"%s","sequencer":"%s"},"request-id":"N4N7GDK58NMKJ12R",'
    .. '"requester":"123456789012","source-ip-address":"127.0.0.1","reason":"PutObject"}}'

function init(args)
    mode = args[1] or "events"
    run_id = args[2] or "0"
    n = 0
    accepted = 0
    ok = 0
    other = 0
    last_other = ""
    headers = {}
    if args[3] == "close" then headers["Connection"] = "close" end
    if mode == "events" then
        headers["Content-Type"] = "application/json"
    end
end

function request()
    if mode == "health" then
        return wrk.format("GET", "/health", headers)
    end
    n = n + 1
    local name = string.format("bench-%s-%d-%d", run_id, tid, n)
    local tag = string.format("%s%08x%08x", run_id, tid, n)
    local body = string.format(template, name, name, tag, tag)
    return wrk.format("POST", "/v1/events", headers, body)
end

function response(status, headers, body)
    if status == 202 then
        accepted = accepted + 1
    elseif status == 200 then
        ok = ok + 1
    else
        other = other + 1
        last_other = tostring(status)
    end
end

function done(summary, latency, requests)
    local a, o, x, last = 0, 0, 0, ""
    for _, t in ipairs(threads) do
        a = a + t:get("accepted")
        o = o + t:get("ok")
        x = x + t:get("other")
        local l = t:get("last_other")
        if l ~= "" then last = l end
    end
    local e = summary.errors
    io.write(string.format(
        'RESULT {"requests":%d,"duration_us":%d,"accepted_202":%d,"ok_200":%d,"other":%d,"last_other":"%s",'
        .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d,'
        .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
        summary.requests, summary.duration, a, o, x, last,
        e.connect, e.read, e.write, e.timeout, e.status,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
