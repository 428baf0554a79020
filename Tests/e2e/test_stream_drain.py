"""`streams.on_client_disconnect: drain`: a stream whose client leaves is read on (its content
discarded) for up to `streams.drain_timeout`, so the call is charged the provider's own usage rather
than the estimate; past the timeout the read stops and the estimate stands."""

from __future__ import annotations

import time

import upstream_double as up
from perimeter_harness import openai_client


def drain_config(timeout: str) -> dict:
    return {"extra_yaml": f"streams:\n  on_client_disconnect: drain\n  drain_timeout: {timeout}\n"}


def leave_after_first_chunk(gw, key: str, prompt: str) -> str:
    raw = openai_client(gw, key).chat.completions.with_raw_response.create(
        model="slow-stream", messages=[{"role": "user", "content": prompt}], stream=True
    )
    stream = iter(raw.parse())
    assert next(stream).choices
    raw.http_response.close()
    return raw.headers["x-perimeter-request-id"]


def test_a_drained_stream_is_charged_the_providers_usage(gateway_factory, marker):
    gw = gateway_factory("drain", config=drain_config("20s"))
    key = gw.create_key("drain", "test")
    started = time.monotonic()
    request_id = leave_after_first_chunk(gw, key["key"], f"drain {marker}")
    call = gw.wait_for_call(request_id, timeout=30)
    assert (call["outcome"], call["usage_source"]) == ("client_cancelled", "provider"), call
    assert call["input_tokens"] == up.CHAT_PROMPT_TOKENS and call["output_tokens"] == up.CHAT_COMPLETION_TOKENS, call
    # It waited for the rest of the stream (the double spreads it over more than a second).
    assert time.monotonic() - started > 1


def test_a_drain_stops_at_its_timeout_and_the_estimate_stands(gateway_factory, marker):
    gw = gateway_factory("drain-timeout", config=drain_config("1s"))
    key = gw.create_key("drain-timeout", "test")
    request_id = leave_after_first_chunk(gw, key["key"], f"drain timeout {marker} " + "w " * 40)
    call = gw.wait_for_call(request_id, timeout=15)
    assert (call["outcome"], call["usage_source"]) == ("client_cancelled", "estimated"), call
    assert call["input_tokens"] >= up.CHAT_PROMPT_TOKENS and call["output_tokens"] >= 1, call

