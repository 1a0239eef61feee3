"""lessons.chat: batched replies equal one-at-a-time replies; choice scores equal a direct computation."""

import json

import pytest
import torch

from lessons.agents import ToolExecutor, calculator_tool, constrained_chat, glossary_tool, run_agents
from lessons.chat import batch_replies, choice_logprobs, reply
from lessons.datasets.course import load_glossary

SYSTEM = {"role": "system", "content": "Be brief."}
CONVERSATIONS = [
    [SYSTEM, {"role": "user", "content": q}] for q in ["Hi", "What is a tensor, in short?", "2+2"]
]


def test_batch_replies_equal_single_replies(tiny_chat_model):
    model, tokenizer = tiny_chat_model
    assert batch_replies(model, tokenizer, CONVERSATIONS, 8) == [
        reply(model, tokenizer, c, 8) for c in CONVERSATIONS
    ]


def test_batch_replies_reply_prefix_and_stop(tiny_chat_model):
    model, tokenizer = tiny_chat_model
    full = batch_replies(model, tokenizer, CONVERSATIONS[:1], 10)[0]
    forced = batch_replies(model, tokenizer, CONVERSATIONS[:1], 6, reply_prefix="ANSWER:")[0]
    assert not forced.startswith("ANSWER:")  # the forced start is prompt, not reply
    if len(full) > 2:
        stopped = batch_replies(model, tokenizer, CONVERSATIONS[:1], 10, stop=[full[:2]])[0]
        assert full[:2] in stopped and len(stopped) <= len(full)


def test_batch_replies_checks_its_arguments(tiny_chat_model):
    model, tokenizer = tiny_chat_model
    with pytest.raises(ValueError, match="max_new_tokens"):
        batch_replies(model, tokenizer, CONVERSATIONS, 0)
    with pytest.raises(ValueError, match="conversations"):
        batch_replies(model, tokenizer, [], 4)
    with pytest.raises(ValueError, match="reply_prefix holds 1 strings for 3"):
        batch_replies(model, tokenizer, CONVERSATIONS, 4, reply_prefix=["a"])


def test_choice_logprobs_equal_a_direct_computation(tiny_chat_model):
    model, tokenizer = tiny_chat_model
    choices = ['calculator"', 'glossary"']
    scores = choice_logprobs(model, tokenizer, CONVERSATIONS[:2], choices, reply_prefix='{"tool": "')
    assert scores.shape == (2, 2)
    for b, conversation in enumerate(CONVERSATIONS[:2]):
        prompt = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        ids = tokenizer(prompt + '{"tool": "', add_special_tokens=False)["input_ids"]
        for c, choice in enumerate(choices):
            rest = tokenizer(choice, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logp = model(input_ids=torch.tensor([ids + rest])).logits[0].log_softmax(-1)
            direct = sum(float(logp[len(ids) - 1 + k, t]) for k, t in enumerate(rest))
            assert scores[b, c].item() == pytest.approx(direct, abs=1e-3)
    with pytest.raises(ValueError, match="choices"):
        choice_logprobs(model, tokenizer, CONVERSATIONS, [])


def test_constrained_chat_writes_only_valid_calls_to_allowed_tools(tiny_chat_model):
    model, tokenizer = tiny_chat_model  # random weights: whatever it "thinks", the call is well formed
    executor = ToolExecutor([calculator_tool(), glossary_tool(load_glossary())], allowed={"glossary"})
    chat = constrained_chat(model, tokenizer, executor, max_argument_tokens=4)
    replies = chat([c + [] for c in CONVERSATIONS])
    for text in replies:
        call = json.loads(text)
        assert call["tool"] == "glossary" and set(call["arguments"]) == {"term"}
    runs = run_agents(chat, executor, ["What is 2 + 2?", "dropout?"], system="tools", max_steps=2)
    assert all(r.steps[0].reply.startswith('{"tool": "glossary"') for r in runs)
    assert all(r.stopped == "answer" and r.steps[1].reply.startswith("ANSWER:") for r in runs)
    with pytest.raises(ValueError, match="max_argument_tokens"):
        constrained_chat(model, tokenizer, executor, max_argument_tokens=0)


def test_run_agents_checks_its_arguments():
    executor = ToolExecutor([calculator_tool()])
    with pytest.raises(ValueError, match="questions"):
        run_agents(lambda cs: ["ANSWER: 1"] * len(cs), executor, [], system="s")
    with pytest.raises(ValueError, match="2 lists for 1 questions"):
        run_agents(lambda cs: ["ANSWER: 1"], executor, ["q"], system="s", examples=[[], []])
    with pytest.raises(ValueError, match="returned 2 replies for 1"):
        run_agents(lambda cs: ["ANSWER: 1"] * 2, executor, ["q"], system="s")
