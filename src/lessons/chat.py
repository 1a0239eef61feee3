"""Greedy replies of a chat model, streamed token by token with a key-value cache.

`stream_reply` is the one decoding loop that the serving endpoint (`lessons.serve.chat_generator`) and the
agent loop (`lessons.agents.run_agent`) share.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from lessons.checks import check_int

__all__ = ["stream_reply", "reply", "batch_replies", "choice_logprobs"]


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


def _common_prefix(texts: Sequence[str]) -> str:
    """The longest shared start of `texts` that ends just before an ``<|im_start|>`` turn (or ``""``)."""
    first = texts[0]
    length = min(len(t) for t in texts)
    end = next((i for i in range(length) if any(t[i] != first[i] for t in texts)), length)
    cut = first.rfind("<|im_start|>", 0, end + 1)
    return first[: max(cut, 0)]


def _render(
    tokenizer: Any, conversations: Sequence[Sequence[dict[str, str]]], reply_prefix: str | Sequence[str]
) -> list[str]:
    if not conversations or any(not c for c in conversations):
        raise ValueError("conversations must hold at least one non-empty conversation")
    starts = [reply_prefix] * len(conversations) if isinstance(reply_prefix, str) else list(reply_prefix)
    if len(starts) != len(conversations):
        raise ValueError(f"reply_prefix holds {len(starts)} strings for {len(conversations)} conversations")
    return [
        tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=False) + start
        for c, start in zip(conversations, starts, strict=True)
    ]


class _Batch:
    """Token sequences that share a start: the start's cache is computed once and repeated for the batch."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], keep: int = 1) -> None:
        from transformers import DynamicCache

        self.model, self.cache, n = model, DynamicCache(), len(texts)
        prefix = _common_prefix(texts)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ends = [tokenizer(t[len(prefix) :], add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(e) for e in ends)
        self.ends = ends
        suffix = torch.tensor([[pad] * (width - len(e)) + e for e in ends])
        suffix_mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in ends])
        start = 0
        if prefix:
            prefix_ids = tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
            self.model(input_ids=prefix_ids, cache=self.cache, use_cache=True, logits_to_keep=1)
            self.cache.batch_repeat_interleave(n)
            start = prefix_ids.shape[1]
        self.mask = torch.cat([torch.ones(n, start, dtype=torch.long), suffix_mask], dim=1)
        self.positions = start + suffix_mask.cumsum(1) - 1
        self.logits = self._forward(suffix, keep)

    def _forward(self, ids: torch.Tensor, keep: int) -> torch.Tensor:
        out = self.model(
            input_ids=ids,
            attention_mask=self.mask,
            position_ids=self.positions.clamp(min=0),
            cache=self.cache,
            use_cache=True,
            logits_to_keep=keep,
        )
        return out.logits

    def keep_rows(self, rows: list[int]) -> None:
        """Keep only the sequences `rows` (indices into the current batch): cache, mask and positions."""
        self.cache.batch_select_indices(torch.tensor(rows))
        self.mask, self.positions = self.mask[rows], self.positions[rows]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per sequence (N,); returns the next logits (N, V)."""
        self.mask = torch.cat([self.mask, torch.ones(len(tokens), 1, dtype=torch.long)], dim=1)
        self.positions = self.positions[:, -1:] + 1
        return self._forward(tokens[:, None], 1)[:, -1]


def batch_replies(
    model: torch.nn.Module,
    tokenizer: Any,
    conversations: Sequence[Sequence[dict[str, str]]],
    max_new_tokens: int,
    *,
    reply_prefix: str | Sequence[str] = "",
    stop: Sequence[str] = (),
) -> list[str]:
    """Greedy replies to several conversations at once, computing the part they share only once.

    Conversations that start alike (one system prompt, the same worked examples) share the key-value cache
    of their common beginning: it is computed for one sequence and repeated for the batch. Each
    conversation's own end is then left-padded to the longest and appended, with an attention mask that
    hides the padding and position ids that continue each sequence's own count, so every reply is the one
    `reply` gives alone, up to float rounding. A reply ends at the end-of-turn token, after
    `max_new_tokens` tokens, or just after one of the `stop` strings (which stays in the reply); a finished
    reply leaves the batch, so the steps that follow cost only what the unfinished ones need.

    Args:
        model: a `transformers` causal LM in eval mode (SmolLM2 from `lessons.pretrained.load_smollm2`).
        tokenizer: its tokenizer, with a chat template that starts each turn with ``<|im_start|>``.
        conversations: B lists of ``{"role": ..., "content": ...}`` messages (B >= 1).
        max_new_tokens: the most tokens generated per reply (at least 1).
        reply_prefix: text the reply is forced to start with (one for all, or one per conversation); it is
            part of the prompt, not of the returned reply.
        stop: strings that end a reply as soon as it contains one (e.g. ``"}}"`` after a JSON tool call).

    Returns:
        B strings, in the order of `conversations`.

    Raises:
        ValueError: `conversations` is empty or holds an empty conversation, `reply_prefix` does not hold
            one string per conversation, or `max_new_tokens` < 1.
    """
    check_int("max_new_tokens", max_new_tokens, ge=1)
    texts = _render(tokenizer, conversations, reply_prefix)
    stop_ids = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    answers: list[list[int]] = [[] for _ in texts]
    done = [False] * len(texts)
    with torch.inference_mode():
        batch = _Batch(model, tokenizer, texts)
        logits = batch.logits[:, -1]
        live = list(range(len(texts)))  # the conversation of each row still in the batch
        for step in range(max_new_tokens):
            tokens = logits.argmax(-1).tolist()
            for b, token in zip(live, tokens, strict=True):
                if token in stop_ids:
                    done[b] = True
                    continue
                answers[b].append(token)
                if stop and any(s in tokenizer.decode(answers[b], skip_special_tokens=True) for s in stop):
                    done[b] = True
            rows = [i for i, b in enumerate(live) if not done[b]]
            if not rows or step == max_new_tokens - 1:
                break
            if len(rows) < len(live):  # finished replies leave the batch, so no step is spent on them
                batch.keep_rows(rows)
                live = [live[i] for i in rows]
            logits = batch.step(torch.tensor([tokens[i] for i in rows]))
    return [tokenizer.decode(a, skip_special_tokens=True) for a in answers]


def choice_logprobs(
    model: torch.nn.Module,
    tokenizer: Any,
    conversations: Sequence[Sequence[dict[str, str]]],
    choices: Sequence[str],
    *,
    reply_prefix: str | Sequence[str] = "",
) -> torch.Tensor:
    """How likely the model finds each choice as the continuation of each conversation's reply.

    For conversation b and choice c this is $\\log p(c \\mid \\text{prompt}_b + \\text{reply\\_prefix}_b)$,
    the sum of the log-probabilities of the choice's tokens, all computed in one batched pass: each prompt
    is read once and its key-value cache repeated for the C choices. It
    is how a fixed set of answers (tool names, labels) is picked without letting the model write anything
    else: constrained decoding in its simplest form.

    Args:
        model: a `transformers` causal LM in eval mode.
        tokenizer: its tokenizer, with a chat template.
        conversations: B conversations.
        choices: C non-empty strings (e.g. ``['calculator"', 'glossary"']``).
        reply_prefix: the forced start of the reply before the choice (one for all, or one per conversation).

    Returns:
        (B, C) float32 summed log-probabilities; ``argmax(1)`` is each conversation's choice.

    Raises:
        ValueError: `choices` is empty or holds an empty string; bad `conversations` or `reply_prefix`.
    """
    if not choices or any(not c for c in choices):
        raise ValueError("choices must hold at least one non-empty string")
    texts = _render(tokenizer, conversations, reply_prefix)
    # The prompt's tokens end where each choice's begin: tokenize them apart and join the ids.
    choice_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in choices]
    keep = max(len(c) for c in choice_ids) + 1
    n_choices = len(choices)
    pairs = [(b, c) for b in range(len(texts)) for c in range(n_choices)]  # row b * C + c
    with torch.inference_mode():
        batch = _Batch(model, tokenizer, texts, keep=1)  # each prompt once ...
        batch.cache.batch_repeat_interleave(n_choices)  # ... its cache repeated for every choice
        batch.mask = batch.mask.repeat_interleave(n_choices, 0)
        batch.positions = batch.positions.repeat_interleave(n_choices, 0)
        first = batch.logits[:, -1].log_softmax(-1).repeat_interleave(n_choices, 0)  # (B*C, V)
        scores = torch.tensor([float(first[n, choice_ids[c][0]]) for n, (_, c) in enumerate(pairs)])
        rest = [choice_ids[c] for _, c in pairs]
        for k in range(1, keep - 1):  # later tokens, fed one position at a time
            if all(len(r) <= k for r in rest):
                break
            tokens = torch.tensor([r[k - 1] if len(r) > k else r[-1] for r in rest])
            logp = batch.step(tokens).log_softmax(-1)
            for n, r in enumerate(rest):
                if len(r) > k:
                    scores[n] += float(logp[n, r[k]])
    return scores.view(len(texts), len(choices))
