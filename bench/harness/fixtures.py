"""What the benchmark sends and what its fixed upstream answers: keys, requests, OpenAI-shaped bodies."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


BENCH_DIR = Path(__file__).resolve().parent.parent  # bench/, this file being bench/harness/fixtures.py
REPO = BENCH_DIR.parent
LOOPBACK = "127.0.0.1"

PROVIDER_KEY = "sk-bench-" + "0123456789abcdef" * 3
ADMIN_TOKEN = "bench-admin-" + hashlib.sha256(str(os.getpid()).encode()).hexdigest()[:32]
LITELLM_MASTER_KEY = "sk-litellm-bench-master"
LITELLM_SPEC = "litellm[proxy]"

# What the LiteLLM comparison cannot make equal (also in the JSON and bench/README.md).
LITELLM_NOT_EQUIVALENT = [
    "master key only: LiteLLM's virtual keys, per-key budgets, rpm/tpm limits, IP and model allow-lists and "
    "spend logs need its Postgres database through Prisma, which cannot be set up here (Prisma downloads its "
    "engines at run time; no Postgres), so LiteLLM does no per-key admission, budget or call logging, while "
    "Perimeter does all of them on every call",
    "streams through LiteLLM are routed by model name to their upstream paths because it drops the client's "
    "query string; the upstream bytes are the same",
    "LiteLLM rewrites streams: its usage chunk carries a choices entry with an empty delta instead of []",
    "one uvicorn worker (--num_workers 1), as Perimeter is one process",
]

# The request every load phase sends, through the gateway or direct.
CHAT_REQUEST = {"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello"}]}
STREAM_REQUEST = dict(CHAT_REQUEST, stream=True, stream_options={"include_usage": True})
# Streams that go to the slow upstream: a dated snapshot, priced like gpt-4o-mini, routed by Perimeter's
# first provider (see perimeter_config).
SLOW_MODEL = "gpt-4o-mini-2024-07-18"

PROMPT_TOKENS, COMPLETION_TOKENS, CACHED_TOKENS = 9, 10, 0
SLOW_PROMPT_TOKENS, SLOW_CACHED_TOKENS = 11, 3  # slow_upstream.py's usage; its output tokens = its events
CREATED = 1741569952
ANSWER_PIECES = ["Hello", "!", " How", " can", " I", " assist", " you", " today", "?"]


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def usage_object() -> dict:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_body() -> str:
    return compact(
        {
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion",
            "created": CREATED,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(ANSWER_PIECES),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage_object(),
            "service_tier": "default",
            "system_fingerprint": "fp_06737a9306",
        }
    )


def sse_events() -> list[str]:
    """The `data:` payloads of the fixed stream, in order."""

    def chunk(delta, finish=None, choices=True):
        return compact(
            {
                "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": "gpt-4o-mini-2024-07-18",
                "service_tier": "default",
                "system_fingerprint": "fp_06737a9306",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
                "usage": None if choices else usage_object(),
            }
        )

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in ANSWER_PIECES]
    events.append(chunk({}, "stop"))
    events.append(chunk(None, choices=False))
    events.append("[DONE]")
    return events


def sse_body() -> str:
    return "".join(f"data: {event}\n\n" for event in sse_events())


def nginx_quote(text: str) -> str:
    assert "$" not in text, "nginx would read $ as a variable"
    quoted = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    assert len(quoted) < 4000, "nginx rejects a config token over 4 KiB"
    return quoted
