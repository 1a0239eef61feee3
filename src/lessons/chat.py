"""Greedy replies of a chat model, streamed token by token with a key-value cache.

`stream_reply` is the one decoding loop that the serving endpoint (`lessons.serve.chat_generator`) and the
agent loop (`lessons.agents.run_agent`) share.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from lessons.checks import check_int

__all__ = ["stream_reply", "reply", "batch_replies"]


def stream_reply(
    model: torch.nn.Module, tokenizer: Any, messages: Sequence[dict[str, str]], max_new_tokens: int
) -> Iterator[str]:
    """The model's next turn in a conversation, greedily decoded, as the text each new token adds.

    The messages go through the tokenizer's chat template with the generation prompt. Each step feeds only
    the newest token and the key-value cache, so a token costs the same at the end of the answer as at the
    start. A token that ends inside a multi-byte character adds nothing until the character is complete, so
    the pieces join to exactly ``tokenizer.decode(answer_ids, skip_special_tokens=True)``. The reply stops at
    the end-of-turn token or after `max_new_tokens` tokens.

    Args:
        model: a `transformers` causal LM in eval mode (e.g. SmolLM2 from `lessons.pretrained.load_smollm2`).
        tokenizer: its tokenizer, with a chat template.
        messages: ``{"role": ..., "content": ...}`` dicts, the conversation so far.
        max_new_tokens: the most tokens to generate (at least 1).

    Yields:
        Strings, at most one per token.

    Raises:
        ValueError: `max_new_tokens` is below 1, or `messages` is empty.
    """
    from transformers import DynamicCache

    check_int("max_new_tokens", max_new_tokens, ge=1)
    if not messages:
        raise ValueError("messages must hold at least one message")
    stop = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    ids = tokenizer.apply_chat_template(
        list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    step = ids["input_ids"]
    cache, answer, shown = DynamicCache(), [], ""
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            logits = model(input_ids=step, cache=cache, use_cache=True).logits
            token = int(logits[0, -1].argmax())
            if token in stop:
                return
            answer.append(token)
            text = tokenizer.decode(answer, skip_special_tokens=True)
            if not text.endswith("\ufffd"):  # wait until a split character is whole
                yield text[len(shown) :]
                shown = text
            step = torch.tensor([[token]])


def reply(
    model: torch.nn.Module, tokenizer: Any, messages: Sequence[dict[str, str]], max_new_tokens: int
) -> str:
    """The whole of `stream_reply`, as one string."""
    return "".join(stream_reply(model, tokenizer, messages, max_new_tokens))


def _common_prefix(rendered: Sequence[str], ids_of: Any) -> str:
    """The longest shared start of the rendered prompts that ends just before an ``<|im_start|>`` turn."""
    first = rendered[0]
    length = min(len(r) for r in rendered)
    end = next((i for i in range(length) if any(r[i] != first[i] for r in rendered)), length)
    cut = first.rfind("<|im_start|>", 0, end + 1)
    return first[: max(cut, 0)]


def batch_replies(
    model: torch.nn.Module,
    tokenizer: Any,
    conversations: Sequence[Sequence[dict[str, str]]],
    max_new_tokens: int,
    *,
    stop: Sequence[str] = (),
) -> list[str]:
    """Greedy replies to several conversations at once, computing the part they share only once.

    Conversations that start alike (one system prompt, the same worked examples) share the key-value cache
    of their common beginning: it is computed for one sequence and repeated for the batch. Each
    conversation's own end is then left-padded to the longest and appended, with an attention mask that
    hides the padding and position ids that continue each sequence's own count, so every reply is the one
    `reply` gives alone, up to float rounding. A reply ends at the end-of-turn token, after
    `max_new_tokens` tokens, or just after one of the `stop` strings (which stays in the reply).

    Args:
        model: a `transformers` causal LM in eval mode (SmolLM2 from `lessons.pretrained.load_smollm2`).
        tokenizer: its tokenizer, with a chat template that starts each turn with ``<|im_start|>``.
        conversations: B lists of ``{"role": ..., "content": ...}`` messages (B >= 1).
        max_new_tokens: the most tokens generated per reply (at least 1).
        stop: strings that end a reply as soon as it contains one (e.g. ``"}}"`` after a JSON tool call).

    Returns:
        B strings, in the order of `conversations`.

    Raises:
        ValueError: `conversations` is empty or holds an empty conversation, or `max_new_tokens` < 1.
    """
    from transformers import DynamicCache

    check_int("max_new_tokens", max_new_tokens, ge=1)
    if not conversations or any(not c for c in conversations):
        raise ValueError("conversations must hold at least one non-empty conversation")
    rendered = [
        tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=False)
        for c in conversations
    ]
    prefix = _common_prefix(rendered, tokenizer)
    batch = len(rendered)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ends = [tokenizer(r[len(prefix) :], add_special_tokens=False)["input_ids"] for r in rendered]
    width = max(len(e) for e in ends)
    suffix = torch.tensor([[pad] * (width - len(e)) + e for e in ends])
    suffix_mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in ends])
    stop_ids = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    cache = DynamicCache()
    answers: list[list[int]] = [[] for _ in range(batch)]
    done = [False] * batch
    with torch.inference_mode():
        start = 0
        if prefix:
            prefix_ids = tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
            model(input_ids=prefix_ids, cache=cache, use_cache=True)
            cache.batch_repeat_interleave(batch)
            start = prefix_ids.shape[1]
        mask = torch.cat([torch.ones(batch, start, dtype=torch.long), suffix_mask], dim=1)
        positions = start + suffix_mask.cumsum(1) - 1
        step = suffix
        for _ in range(max_new_tokens):
            out = model(
                input_ids=step,
                attention_mask=mask,
                position_ids=positions.clamp(min=0),
                cache=cache,
                use_cache=True,
            )
            tokens = out.logits[:, -1].argmax(-1)
            for b, token in enumerate(tokens.tolist()):
                if done[b]:
                    continue
                if token in stop_ids:
                    done[b] = True
                    continue
                answers[b].append(token)
                if stop and any(s in tokenizer.decode(answers[b], skip_special_tokens=True) for s in stop):
                    done[b] = True
            if all(done):
                break
            step = tokens[:, None]
            mask = torch.cat([mask, torch.ones(batch, 1, dtype=torch.long)], dim=1)
            positions = positions[:, -1:] + 1
    return [tokenizer.decode(a, skip_special_tokens=True) for a in answers]
