"""Greedy replies of a chat model, streamed token by token with a key-value cache.

`stream_reply` is the one decoding loop that the serving endpoint (`lessons.serve.chat_generator`) and the
agent loop (`lessons.agents.run_agent`) share.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from lessons.checks import check_int

__all__ = ["stream_reply", "reply"]


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
