-- Shared by chat.lua and paced.lua: the request (from the environment, so the key never sits on a
-- command line) and a done() that prints one JSON line the harness parses.
--   BENCH_BODY_FILE  file with the JSON request body
--   BENCH_METHOD     GET for a request without a body (the server-floor row); POST otherwise
--   BENCH_AUTH       value of the Authorization header (optional)
local M = {}

function M.setup_request()
    if os.getenv("BENCH_METHOD") == "GET" then
        wrk.method = "GET"
    else
        local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
        local body = f:read("*a")
        f:close()
        wrk.method = "POST"
        wrk.body = body
        wrk.headers["Content-Type"] = "application/json"
    end
    local auth = os.getenv("BENCH_AUTH")
    if auth and auth ~= "" then
        wrk.headers["Authorization"] = auth
    end
end

function M.done(summary, latency, requests)
    local e = summary.errors
    local out = string.format(
        '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d}}',
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency.min, latency.mean, latency.stdev, latency.max,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9))
    io.write("BENCH_RESULT " .. out .. "\n")
end

return M
