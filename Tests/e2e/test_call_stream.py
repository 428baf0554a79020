"""GET /admin/v1/calls/stream: the live tail the console shows. A call made with the official openai
SDK appears on the stream within a second of its answer; key_id and env filters hold; a viewer may
read it; and a gateway with a stream open still stops promptly on SIGTERM."""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from urllib.parse import urlparse, urlencode

from perimeter_harness import openai_client


class EventStream:
    """An open text/event-stream response, its events read on a thread into a queue."""

    def __init__(self, gateway, token: str, **filters: str):
        address = urlparse(gateway.url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        path = "/admin/v1/calls/stream" + (("?" + urlencode(filters)) if filters else "")
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"})
        self.response = self.connection.getresponse()
        self.events: queue.Queue = queue.Queue()
        self.comments: list[str] = []
        self.ended = threading.Event()
        if self.response.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event, data = None, []
        try:
            for raw in self.response:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: "):
                    data.append(line[len("data: "):])
                elif line == "" and event is not None:
                    self.events.put((event, json.loads("\n".join(data)), time.monotonic()))
                    event, data = None, []
        except (OSError, ValueError, AttributeError, http.client.HTTPException):  # closed by the test
            pass
        self.ended.set()

    def wait_for(self, request_id: str, timeout: float) -> tuple[dict, float]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event, data, at = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"call {request_id} not on the stream within {timeout}s")
            if event == "call" and data["id"] == request_id:
                return data, at

    def call_ids(self, settle: float = 1.5) -> set[str]:
        time.sleep(settle)
        ids = set()
        while not self.events.empty():
            event, data, _ = self.events.get()
            if event == "call":
                ids.add(data["id"])
        return ids

    def close(self) -> None:
        self.connection.close()


def chat(gateway, key: str, text: str) -> tuple[str, float]:
    raw = openai_client(gateway, key).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    assert raw.http_response.status_code == 200
    return raw.headers.get("x-perimeter-request-id"), time.monotonic()


def test_an_sdk_call_appears_on_the_stream_within_a_second(gateway_factory):
    gw = gateway_factory("stream")
    key = gw.create_key("tail", "prod")
    stream = EventStream(gw, gw.admin_token)
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type") == "text/event-stream"
        assert stream.response.getheader("Cache-Control") == "no-store"
        request_id, answered = chat(gw, key["key"], "hello stream")
        row, seen = stream.wait_for(request_id, timeout=5)
        assert seen - answered < 1.0, f"on the stream {seen - answered:.2f}s after the answer"
        # The same object as a row of GET /calls.
        logged = gw.wait_for_call(request_id)
        assert row == logged
        assert row["key_id"] == key["id"] and row["outcome"] == "ok" and row["model"] == "gpt-4o-mini"
    finally:
        stream.close()


def test_filters_and_roles(gateway_factory):
    gw = gateway_factory("stream-filters")
    prod = gw.create_key("p", "prod")
    dev = gw.create_key("d", "dev")
    viewer = gw.cli_json("admins", "create", "--name", "console-viewer", "--role", "viewer")["token"]
    by_key = EventStream(gw, gw.admin_token, key_id=prod["id"])
    by_env = EventStream(gw, viewer, env="dev")
    everything = EventStream(gw, viewer)
    try:
        assert by_env.response.status == 200, "a viewer may read the stream"
        made = {chat(gw, prod["key"], "one")[0]: "prod", chat(gw, dev["key"], "two")[0]: "dev"}
        # A refused call (an unknown key) is a final record too, of no key and no environment.
        status, _, _ = gw.http("POST", "/v1/chat/completions", b'{"model":"gpt-4o-mini","messages":[]}',
                               {"Authorization": "Bearer pk-nonsense", "Content-Type": "application/json"})
        assert status == 401
        assert by_key.call_ids() == {i for i, env in made.items() if env == "prod"}
        assert by_env.call_ids(0) == {i for i, env in made.items() if env == "dev"}
        assert set(made) <= everything.call_ids(0)
    finally:
        for stream in (by_key, by_env, everything):
            stream.close()
    refused = EventStream(gw, "not-a-token")
    assert refused.response.status == 401
    assert json.loads(refused.response.read())["error"]["code"] == "unauthorized"


def test_sigterm_with_a_stream_open_exits_quickly(gateway_factory):
    gw = gateway_factory("stream-sigterm")
    stream = EventStream(gw, gw.admin_token)
    assert stream.response.status == 200
    key = gw.create_key("k", "prod")
    request_id, _ = chat(gw, key["key"], "before shutdown")
    stream.wait_for(request_id, timeout=5)
    started = time.monotonic()
    code = gw.stop(timeout=15)
    took = time.monotonic() - started
    assert code == 0, gw.stderr_text()[-3000:]
    assert took < 3, f"SIGTERM took {took:.1f}s with a stream open"
    assert stream.ended.wait(2), "the stream did not end with the gateway"
    stream.close()
