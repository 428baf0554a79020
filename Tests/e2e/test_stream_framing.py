"""Streams cut into TCP writes in different ways (one write, tiny writes, writes that split events,
CRLF line endings) reach the SDKs intact and are metered the same."""

from __future__ import annotations

import pytest

import upstream_double as up

SPLITS = ["awkward", "whole", "tiny", "crlf"]


@pytest.mark.parametrize("split", SPLITS)
def test_openai_stream_framing(oai, gateway, upstream, marker, split):
    prompt = f"framing {split} {marker}"
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True,
        extra_headers={"x-double-split": split},
    )
    chunks = list(raw.parse())
    assert [c.choices[0].delta.content for c in chunks[1:-1]] == up.answer_pieces(prompt)
    assert all(len(c.choices) == 1 and c.usage is None for c in chunks)
    assert upstream.only(marker).header("x-double-split") == split
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["outcome"] == "ok"
    assert (call["input_tokens"], call["cached_input_tokens"], call["output_tokens"]) == (11, 3, 7)


@pytest.mark.parametrize("split", SPLITS)
def test_openai_stream_framing_with_usage(oai, gateway, marker, split):
    prompt = f"framing usage {split} {marker}"
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True,
        stream_options={"include_usage": True}, extra_headers={"x-double-split": split},
    )
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == up.answer_text(prompt)
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 18
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["outcome"] == "ok" and call["output_tokens"] == 7


@pytest.mark.parametrize("split", SPLITS)
def test_anthropic_stream_framing(ant, gateway, marker, split):
    prompt = f"framing {split} {marker}"
    with ant.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": prompt}],
        extra_headers={"x-double-split": split},
    ) as stream:
        request_id = stream.response.headers["x-perimeter-request-id"]
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == up.answer_pieces(prompt)
    assert final.usage.output_tokens == up.MESSAGES_OUTPUT_TOKENS
    call = gateway.wait_for_call(request_id)
    assert call["outcome"] == "ok"
    assert (call["input_tokens"], call["cached_input_tokens"], call["cache_write_tokens"], call["output_tokens"]) == (20, 5, 2, 9)
