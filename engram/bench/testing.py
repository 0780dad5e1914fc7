"""A scripted OpenAI-compatible chat server, for testing the QA path offline.

A public test helper, not a mock: it is a real HTTP server on the loopback interface that
speaks ``POST /v1/chat/completions`` and answers from a script, so tests exercise the same
client, retries and parsing that talk to a real endpoint.

Example:
    >>> with ScriptedChatServer(lambda prompt: "yes") as server:     # doctest: +SKIP
    ...     endpoint = Endpoint(server.base_url, "scripted")
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[str], str]


class ScriptedChatServer:
    """Serves chat completions whose text is ``script(prompt)``.

    Args:
        script: maps the last user message to the reply text.
        fail_first: answer the first this-many requests with HTTP 503 (to test retries).
        host: the loopback address to listen on; the port is chosen free.
    """

    def __init__(self, script: Script, *, fail_first: int = 0, host: str = "127.0.0.1") -> None:
        self.script = script
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> ScriptedChatServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _respond(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if len(self.requests) <= self.fail_first:
                return 503, {"error": {"message": "scripted outage"}}
        messages = body.get("messages") or [{}]
        prompt = str(messages[-1].get("content", ""))
        text = self.script(prompt)
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": usage,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                self._send(*server._respond(body, {k.lower(): v for k, v in self.headers.items()}))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        return Handler


# -- tiny synthetic benchmarks ------------------------------------------------------------------


def synthetic_locomo() -> list[dict[str, Any]]:
    """A two-conversation LoCoMo file in the official format, with the data README's traps.

    Traps: a date key for a session that does not exist, an evidence entry holding two ids
    (``"D1:3; D2:1"``), a malformed id (``"D:2:2"``), a question without evidence, an
    adversarial (category 5) question with only ``adversarial_answer``, and a shared photo
    (``blip_caption``).
    """

    def turn(speaker: str, dia_id: str, text: str, **extra: str) -> dict[str, Any]:
        return {"speaker": speaker, "dia_id": dia_id, "text": text, **extra}

    first = {
        "speaker_a": "Alice",
        "speaker_b": "Bob",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            turn("Alice", "D1:1", "Hi Bob! I just adopted a puppy."),
            turn("Bob", "D1:2", "Congratulations! What is the puppy called?"),
            turn("Alice", "D1:3", "His name is Rex, a golden retriever."),
            turn("Bob", "D1:4", "I started learning the violin last week."),
        ],
        "session_2_date_time": "10:00 am on 20 June, 2023",
        "session_2": [
            turn("Alice", "D2:1", "Rex learned to fetch the frisbee at the beach."),
            turn("Bob", "D2:2", "My violin teacher says I play Vivaldi well now."),
            turn("Alice", "D2:3", "Look at this!", blip_caption="a photo of a red kite over a hill"),
        ],
        "session_3_date_time": "9:00 am on 1 July, 2023",  # a date for a session that does not exist
    }
    second = {
        "speaker_a": "Carol",
        "speaker_b": "Dan",
        "session_1_date_time": "8:00 pm on 3 March, 2022",
        "session_1": [
            turn("Carol", "D1:1", "I moved to Lisbon for a new job at a bakery."),
            turn("Dan", "D1:2", "Lisbon sounds lovely. I am training for a marathon."),
        ],
    }
    return [
        {
            "sample_id": "conv-a",
            "conversation": first,
            "qa": [
                {
                    "question": "What is the name of Alice's puppy?",
                    "answer": "Rex",
                    "evidence": ["D1:3"],
                    "category": 4,
                },
                {
                    "question": "When did Bob start learning the violin?",
                    "answer": "early May 2023",
                    "evidence": ["D1:4"],
                    "category": 2,
                },
                {
                    "question": "What breed is the puppy that learned to fetch a frisbee?",
                    "answer": "golden retriever",
                    "evidence": ["D1:3; D2:1"],
                    "category": 1,
                },
                {
                    "question": "Which composer does Bob's violin teacher praise?",
                    "answer": "Vivaldi",
                    "evidence": ["D:2:2"],
                    "category": 3,
                },
                {
                    "question": "What did Alice show in the photo?",
                    "answer": "a red kite",
                    "evidence": [],
                    "category": 4,
                },
                {
                    "question": "What is the name of Bob's puppy?",
                    "adversarial_answer": "Rex",
                    "evidence": ["D1:3"],
                    "category": 5,
                },
            ],
        },
        {
            "sample_id": "conv-b",
            "conversation": second,
            "qa": [
                {
                    "question": "Where did Carol move for her job?",
                    "answer": "Lisbon",
                    "evidence": ["D1:1"],
                    "category": 4,
                },
                {
                    "question": "What is Dan training for?",
                    "answer": "a marathon",
                    "evidence": ["D1:2"],
                    "category": 4,
                },
            ],
        },
    ]


def synthetic_longmemeval() -> list[dict[str, Any]]:
    """A five-question LongMemEval file in the official format, with the data README's traps.

    One filler session recurs in every haystack (its vectors must be shared); the
    ``single-session-assistant`` question has ``has_answer`` on an assistant turn only (no
    gold user turn); ``q-abs_abs`` is an abstention question; one answer session is dated
    after its question (its gold is unreachable at the question's date).
    """
    filler = [
        {"role": "user", "content": "Can you suggest a recipe for banana bread?"},
        {
            "role": "assistant",
            "content": "Mash three ripe bananas, mix with flour, sugar and eggs, bake 60 minutes.",
        },
    ]
    weather = [
        {"role": "user", "content": "What is the weather usually like in Oslo in winter?"},
        {"role": "assistant", "content": "Cold and dark, often below freezing with snow."},
    ]

    def item(
        qid: str,
        qtype: str,
        question: str,
        answer: str,
        sessions: list[tuple[str, str, list[Any]]],
        answer_ids: list[str],
        date: str = "2023/06/30 (Fri) 10:00",
    ) -> dict[str, Any]:
        return {
            "question_id": qid,
            "question_type": qtype,
            "question": question,
            "answer": answer,
            "question_date": date,
            "haystack_session_ids": [s[0] for s in sessions],
            "haystack_dates": [s[1] for s in sessions],
            "haystack_sessions": [s[2] for s in sessions],
            "answer_session_ids": answer_ids,
        }

    cat = [
        {"role": "user", "content": "My cat Luna turned four years old today.", "has_answer": True},
        {"role": "assistant", "content": "Happy birthday to Luna!"},
    ]
    guitar = [
        {"role": "user", "content": "I bought a second-hand guitar for 200 dollars.", "has_answer": True},
        {"role": "assistant", "content": "Nice find; check the neck for warping."},
    ]
    lessons = [
        {"role": "user", "content": "I booked 10 guitar lessons with a teacher.", "has_answer": True},
        {"role": "assistant", "content": "Great, lessons speed up learning."},
    ]
    poem = [
        {"role": "user", "content": "Write me a short poem about the sea."},
        {"role": "assistant", "content": "The sea is wide, the gulls cry at the tide.", "has_answer": True},
    ]
    city = [
        {"role": "user", "content": "I now live in Porto after leaving Madrid.", "has_answer": True},
        {"role": "assistant", "content": "Porto is a beautiful city."},
    ]
    return [
        item(
            "q-ssu",
            "single-session-user",
            "How old is my cat Luna?",
            "four",
            [
                ("filler_1", "2023/05/01 (Mon) 09:00", filler),
                ("answer_ssu_1", "2023/05/02 (Tue) 18:30", cat),
                ("weather_1", "2023/05/03 (Wed) 08:00", weather),
            ],
            ["answer_ssu_1"],
        ),
        item(
            "q-ms",
            "multi-session",
            "How much did I spend on my guitar and how many lessons did I book?",
            "200 dollars and 10 lessons",
            [
                ("answer_ms_1", "2023/04/01 (Sat) 10:00", guitar),
                ("filler_1", "2023/05/01 (Mon) 09:00", filler),
                ("answer_ms_2", "2023/05/20 (Sat) 12:00", lessons),
            ],
            ["answer_ms_1", "answer_ms_2"],
        ),
        item(
            "q-ssa",
            "single-session-assistant",
            "What was the poem you wrote me about the sea?",
            "The sea is wide, the gulls cry at the tide.",
            [
                ("filler_1", "2023/05/01 (Mon) 09:00", filler),
                ("answer_ssa_1", "2023/05/05 (Fri) 21:00", poem),
            ],
            ["answer_ssa_1"],
        ),
        item(
            "q-ku",
            "knowledge-update",
            "Which city do I live in now?",
            "Porto",
            [("filler_1", "2023/05/01 (Mon) 09:00", filler), ("answer_ku_1", "2023/07/15 (Sat) 09:00", city)],
            ["answer_ku_1"],
        ),
        item(
            "q-abs_abs",
            "single-session-user",
            "What is the name of my dog?",
            "You did not mention a dog.",
            [("filler_1", "2023/05/01 (Mon) 09:00", filler), ("answer_abs_1", "2023/05/02 (Tue) 18:30", cat)],
            ["answer_abs_1"],
        ),
    ]
