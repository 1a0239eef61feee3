"""lessons.serve: the endpoints and their refusals, server-sent events, the chat generator, a live server."""

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from lessons.serve import chat_generator, create_app, read_sse, serve_in_thread, sse_events


def echo(prompt: str, max_new_tokens: int):
    """A stand-in model: the prompt's words, one per piece, at most max_new_tokens of them."""
    words = prompt.split()
    for i, word in enumerate(words[:max_new_tokens]):
        yield word if i == 0 else " " + word


def broken(prompt: str, max_new_tokens: int):
    raise RuntimeError("out of memory")


def breaks_midway(prompt: str, max_new_tokens: int):
    yield "half"
    raise RuntimeError("lost the device")


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(echo, max_prompt_chars=20, max_new_tokens=5))


def test_health_and_generate(client):
    assert client.get("/health").json() == {"status": "ok"}
    r = client.post("/generate", json={"prompt": "one two three", "max_new_tokens": 2})
    assert r.status_code == 200
    assert r.json() == {"text": "one two", "pieces": 2}
    assert client.post("/generate", json={"prompt": "a b c d e f g"}).json()["pieces"] == 5  # the default


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"prompt": "hi"', "json_invalid"),
        ("{}", "missing"),
        ('{"prompt": "   "}', "string_too_short"),
        ('{"prompt": "' + "x" * 21 + '"}', "string_too_long"),
        ('{"prompt": "hi", "max_new_tokens": 6}', "less_than_equal"),
        ('{"prompt": "hi", "max_new_tokens": 0}', "greater_than_equal"),
        ('{"prompt": 3}', "string_type"),
        ("[1, 2]", "model_attributes_type"),
    ],
)
def test_bad_requests_get_422_and_the_server_keeps_serving(client, body, error):
    r = client.post("/generate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == error
    r = client.post("/generate/stream", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert client.post("/generate", json={"prompt": "still here"}).json()["text"] == "still here"


def test_a_model_error_is_a_500_and_the_server_keeps_serving():
    client = TestClient(create_app(broken))
    for path in ("/generate", "/generate/stream"):
        r = client.post(path, json={"prompt": "hi"})
        assert r.status_code == 500
        assert r.json() == {"detail": "generation failed: RuntimeError"}
    assert client.get("/health").status_code == 200


def test_an_error_midway_ends_the_stream_with_an_error_event():
    r = TestClient(create_app(breaks_midway)).post("/generate/stream", json={"prompt": "hi"})
    assert r.status_code == 200  # sent before the failure
    assert "event: error" in r.text
    with pytest.raises(RuntimeError, match="failed midway"):
        list(read_sse(r.text.splitlines()))


def test_stream_carries_the_same_text(client):
    r = client.post("/generate/stream", json={"prompt": "one two three"})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert list(read_sse(r.text.splitlines())) == ["one", " two", " three"]


def test_sse_round_trip_keeps_newlines_and_unicode():
    pieces = ["第一行\n", "data: not an event", "", "😀"]
    body = "".join(sse_events(pieces))
    assert body.endswith("data: [DONE]\n\n")
    assert list(read_sse(body.splitlines())) == pieces


def test_read_sse_rejects_foreign_events():
    with pytest.raises(ValueError, match="not an event"):
        list(read_sse(["data: hello"]))


def test_create_app_checks_its_arguments():
    with pytest.raises(TypeError, match="generate"):
        create_app("not a function")
    with pytest.raises(ValueError, match="max_prompt_chars"):
        create_app(echo, max_prompt_chars=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        create_app(echo, max_new_tokens=0)


def test_live_server_streams_over_http():
    app = create_app(echo)
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
        with httpx.stream("POST", f"{url}/generate/stream", json={"prompt": "over real http"}) as r:
            assert list(read_sse(r.iter_lines())) == ["over", " real", " http"]
        assert (
            httpx.post(
                f"{url}/generate", content="{", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
    with pytest.raises(httpx.ConnectError):  # stopped when the block ended
        httpx.get(f"{url}/health")


def test_chat_generator_equals_greedy_generate(tiny_chat_model):
    model, tokenizer = tiny_chat_model
    pieces = list(chat_generator(model, tokenizer, system="Be brief.")("Hello", 12))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    answer = out[0, ids["input_ids"].shape[1] :].tolist()
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if stop in answer:
        answer = answer[: answer.index(stop)]
    assert "".join(pieces) == tokenizer.decode(answer, skip_special_tokens=True)
    assert len(pieces) <= 12
