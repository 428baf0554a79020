-- Fixed request rate. Each wrk thread keeps its own schedule of send slots, BENCH_RATE_PER_THREAD
-- requests per second, and delays every request until its slot. A slot that has already passed (all
-- of the thread's connections were busy) is not made up for later, so the load never bursts; the
-- achieved rate is reported and should equal the target when the server keeps up.
-- Latency is measured by wrk from the moment the request is written, as in chat.lua.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_us()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

common.setup_request()

local interval_us = 1000000 / assert(tonumber(os.getenv("BENCH_RATE_PER_THREAD")), "BENCH_RATE_PER_THREAD")
local next_slot = nil

function delay()
    local now = now_us()
    -- Up to 5 ms of lag (timers fire late by up to a millisecond) is caught up; more is dropped.
    if next_slot == nil or next_slot < now - 5000 then
        next_slot = now
    end
    local slot = next_slot
    next_slot = slot + interval_us
    local wait_ms = (slot - now) / 1000
    if wait_ms <= 0 then
        return 0
    end
    return math.floor(wait_ms + 0.5)
end

function done(summary, latency, requests)
    common.done(summary, latency, requests)
end
