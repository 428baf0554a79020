-- Closed loop: every connection sends the chat request again as soon as the answer is in.
-- Run with: BENCH_BODY_FILE=... BENCH_AUTH='Bearer ...' wrk -t2 -c64 -d10s -s chat.lua URL
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

common.setup_request()

function done(summary, latency, requests)
    common.done(summary, latency, requests)
end
