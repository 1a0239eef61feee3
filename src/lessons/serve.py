"""A language model behind an HTTP API: FastAPI endpoints, server-sent events, and a server for tests.

`create_app` wraps any text generator (a callable that yields pieces of text) in three endpoints:

- ``GET /health`` answers ``{"status": "ok"}``;
- ``POST /generate`` takes ``{"prompt": ..., "max_new_tokens": ...}`` and answers the whole text at once;
- ``POST /generate/stream`` answers the same text piece by piece as server-sent events (SSE), the
  ``text/event-stream`` format that browsers read with ``EventSource`` and that OpenAI-style APIs stream in.

Bad requests are refused before the model runs: malformed JSON, a missing or empty prompt, a prompt over
the limit, and a token count outside ``[1, max_new_tokens]`` each get a 422 that names the field. An error
inside the model gets a 500 with a short message, and the server goes on serving.

`chat_generator` turns SmolLM2-Instruct (or any chat model of `transformers`) into such a generator with
`lessons.chat.stream_reply`: the chat template, then greedy decoding, one token at a time, with a KV cache.
`serve_in_thread` runs an app with uvicorn on a free loopback port, so a page or a test can talk to it over
real HTTP. This module does not use ``from __future__ import annotations``: FastAPI reads the annotations
of the request model defined inside `create_app` at run time.
"""

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

import torch
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from lessons.chat import stream_reply
from lessons.checks import check_callable, check_int

__all__ = ["Generator", "create_app", "sse_events", "read_sse", "chat_generator", "serve_in_thread"]

Generator = Callable[[str, int], Iterable[str]]
"""A text generator: ``generate(prompt, max_new_tokens)`` yields the answer piece by piece."""


def sse_events(pieces: Iterable[str]) -> Iterator[str]:
    """Server-sent events for a stream of text pieces, then a closing ``[DONE]`` event.

    Each piece travels as one event, ``data: {"text": "..."}`` and a blank line. JSON keeps a piece that
    holds a newline inside one ``data:`` line, where raw text would end the event early. If `pieces` fails
    midway, the stream ends with an ``error`` event instead of ``[DONE]``: the response's status (200) has
    been sent by then and can no longer change.

    Args:
        pieces: the text pieces, in order.

    Yields:
        One string per event, each ending in ``"\\n\\n"``.

    >>> list(sse_events(["Hi", "!"]))
    ['data: {"text": "Hi"}\\n\\n', 'data: {"text": "!"}\\n\\n', 'data: [DONE]\\n\\n']
    """
    try:
        for piece in pieces:
            yield f"data: {json.dumps({'text': piece}, ensure_ascii=False)}\n\n"
    except Exception as error:  # the status line (200) is already sent: say so in the stream, and end it
        detail = json.dumps({"detail": f"generation failed: {type(error).__name__}"})
        yield f"event: error\ndata: {detail}\n\n"
        return
    yield "data: [DONE]\n\n"


def read_sse(lines: Iterable[str]) -> Iterator[str]:
    """The text pieces of an event stream that `sse_events` wrote, read line by line as a client reads them.

    Args:
        lines: the lines of the response body, without their line ends (``httpx``'s ``iter_lines``).

    Yields:
        Each piece of text, until the ``[DONE]`` event.

    Raises:
        RuntimeError: the stream ends with an ``error`` event.
        ValueError: a ``data:`` line that is neither JSON with a ``"text"`` field nor ``[DONE]``.

    >>> list(read_sse(['data: {"text": "Hi"}', '', 'data: [DONE]', '']))
    ['Hi']
    """
    event = "message"
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: ") :]
        if not line.startswith("data: "):
            continue  # the blank line between events, or a comment
        data = line[len("data: ") :]
        if event == "error":
            raise RuntimeError(f"the server failed midway: {data}")
        if data == "[DONE]":
            return
        try:
            yield json.loads(data)["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"not an event of sse_events: {line!r}") from None


def create_app(generate: Generator, *, max_prompt_chars: int = 2000, max_new_tokens: int = 256) -> FastAPI:
    """A FastAPI app that serves `generate` at ``/generate`` and ``/generate/stream``.

    Args:
        generate: ``generate(prompt, n)`` yields at most ``n`` pieces of text (see `chat_generator`).
        max_prompt_chars: the longest prompt accepted, in characters.
        max_new_tokens: the most tokens one request may ask for (and the default when it asks for none).

    Returns:
        The app. Run it with uvicorn (`serve_in_thread`) or test it with ``fastapi.testclient.TestClient``.

    Raises:
        TypeError: `generate` is not callable.
        ValueError: a limit is below 1.
    """
    check_callable("generate", generate)
    check_int("max_prompt_chars", max_prompt_chars, ge=1)
    check_int("max_new_tokens", max_new_tokens, ge=1)
    token_limit = max_new_tokens  # the field below is also named max_new_tokens

    class GenerateRequest(BaseModel):
        prompt: Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_prompt_chars)
        ]
        max_new_tokens: Annotated[int, Field(ge=1, le=token_limit)] = token_limit

    app = FastAPI(title="lessons.serve")

    def failed(error: Exception) -> JSONResponse:
        # A failure inside the model is the server's fault (500), told briefly; the process keeps serving.
        return JSONResponse({"detail": f"generation failed: {type(error).__name__}"}, status_code=500)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/generate", response_model=None)
    def generate_all(request: GenerateRequest) -> dict[str, Any] | JSONResponse:
        try:
            pieces = list(generate(request.prompt, request.max_new_tokens))
        except Exception as error:
            return failed(error)
        return {"text": "".join(pieces), "pieces": len(pieces)}

    @app.post("/generate/stream", response_model=None)
    def generate_stream(request: GenerateRequest) -> StreamingResponse | JSONResponse:
        try:  # run up to the first piece here: until the headers are sent, a failure can still be a 500
            pieces = iter(generate(request.prompt, request.max_new_tokens))
            first = [next(pieces)]
        except StopIteration:
            first = []
        except Exception as error:
            return failed(error)
        return StreamingResponse(sse_events(itertools.chain(first, pieces)), media_type="text/event-stream")

    return app


def chat_generator(model: torch.nn.Module, tokenizer: Any, *, system: str | None = None) -> Generator:
    """A `Generator` that answers each prompt as one user turn of a chat model (`lessons.chat.stream_reply`).

    Args:
        model: a `transformers` causal LM in eval mode (e.g. SmolLM2 from `lessons.pretrained.load_smollm2`).
        tokenizer: its tokenizer, with a chat template.
        system: an optional system message put before every prompt.

    Returns:
        ``generate(prompt, max_new_tokens)``, yielding the text that each new token adds (greedy decoding
        with a key-value cache, stopping at the end-of-turn token).
    """

    def generate(prompt: str, max_new_tokens: int) -> Iterator[str]:
        messages = [{"role": "system", "content": system}] if system else []
        return stream_reply(
            model, tokenizer, [*messages, {"role": "user", "content": prompt}], max_new_tokens
        )

    return generate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, *, timeout: float = 10.0) -> Iterator[str]:
    """Run `app` with uvicorn on a free port of 127.0.0.1 in a background thread, for as long as the block.

    Args:
        app: the ASGI app.
        timeout: seconds to wait for the server to start (and to stop).

    Yields:
        The base URL, e.g. ``"http://127.0.0.1:50123"``.

    Raises:
        RuntimeError: the server did not start within `timeout` seconds.
    """
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start on port {port} within {timeout} s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
