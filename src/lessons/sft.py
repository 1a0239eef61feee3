"""Supervised fine-tuning (SFT) on chat data: token ids and loss-masked labels, padding, the masked loss.

Section 12.5 writes each piece out; these are the same functions for later use. A chat is a list of
messages ``{"role": ..., "content": ...}``; the tokenizer's chat template turns it into one string. SFT
trains on that string with the usual next-token loss, but only on the tokens the assistant says: the
labels of every other token (system, user, the template's own markers) are ``IGNORE_INDEX`` (-100), which
`torch.nn.functional.cross_entropy` and every Hugging Face model skip.

Examples:
    >>> import torch
    >>> logits = torch.zeros(1, 4, 5)  # uniform over 5 tokens at each of 4 positions
    >>> labels = torch.tensor([[-100, -100, 3, 1]])  # only the last two tokens are the answer
    >>> round(masked_nll(logits, labels).item(), 4)  # log 5, averaged over the 2 predicted tokens
    1.6094
    >>> examples = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [5]}]
    >>> batch = collate(examples, pad_id=0)
    >>> {key: value.tolist() for key, value in batch.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'input_ids': [[5, 6, 7], [5, 0, 0]], 'attention_mask': [[1, 1, 1], [1, 0, 0]],
     'labels': [[-100, 6, 7], [5, -100, -100]]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from lessons.checks import check_choice, check_int

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "IGNORE_INDEX",
    "check_messages",
    "encode_chat",
    "collate",
    "masked_nll",
    "teacher_forced_match",
    "teacher_forced_scores",
]

IGNORE_INDEX = -100
"""The label that `F.cross_entropy` (``ignore_index``) and Hugging Face models leave out of the loss."""

_ROLES = ("system", "user", "assistant")


def check_messages(messages: object) -> list[dict[str, str]]:
    """Check that `messages` is a chat: a non-empty list of ``{"role", "content"}`` dicts with string values.

    Args:
        messages: the chat to check.

    Returns:
        The messages, as a list of plain dicts.

    Raises:
        TypeError: `messages` is not a sequence of mappings, or a role or content is not a string.
        ValueError: `messages` is empty, a message lacks a key, or a role is not system, user or assistant.
    """
    if isinstance(messages, (str, Mapping)) or not isinstance(messages, Sequence):
        got = type(messages).__name__
        raise TypeError(f"messages must be a list of {{'role', 'content'}} dicts, got {got}")
    if len(messages) == 0:
        raise ValueError("messages must hold at least one message")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        for key in ("role", "content"):
            if key not in message:
                raise ValueError(f"messages[{i}] has no {key!r}")
            if not isinstance(message[key], str):
                raise TypeError(f"messages[{i}][{key!r}] must be a str, got {type(message[key]).__name__}")
        check_choice(f"messages[{i}]['role']", message["role"], _ROLES)
        out.append({"role": message["role"], "content": message["content"]})
    return out


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], prompt: bool) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_chat(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[Mapping[str, str]],
    *,
    max_length: int | None = None,
) -> dict[str, list[int]]:
    """Token ids of a chat rendered with the tokenizer's template, and labels that keep only the assistant's.

    An assistant turn's tokens are those that rendering the chat up to and including that turn adds to the
    chat before it with the generation prompt (``<|im_start|>assistant\\n`` in ChatML): the reply, the
    end-of-turn token and whatever the template puts after it. That is the part the model must learn to
    write, end-of-turn included, or it never learns to stop. Everything else gets `IGNORE_INDEX`.

    Args:
        tokenizer: a Hugging Face tokenizer with a chat template.
        messages: the chat, with at least one assistant message.
        max_length: if given, keep the first `max_length` tokens (at least 1).

    Returns:
        ``{"input_ids": [...], "labels": [...]}``, two lists of the same length; ``labels[t]`` is
        ``input_ids[t]`` on assistant tokens and `IGNORE_INDEX` elsewhere (a model shifts them itself).

    Raises:
        TypeError, ValueError: `messages` is not a chat (see `check_messages`), or `max_length` < 1.
        ValueError: no message is the assistant's, or the template renders a chat's beginning differently
            once more messages follow (then no token boundary separates the turns).
    """
    messages = check_messages(messages)
    if max_length is not None:
        check_int("max_length", max_length, ge=1)
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("messages must hold at least one assistant message: there is nothing to learn")
    ids = _render(tokenizer, messages, prompt=False)
    labels = [IGNORE_INDEX] * len(ids)
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = _render(tokenizer, messages[:i], prompt=True) if i else []
        end = _render(tokenizer, messages[: i + 1], prompt=False)
        if ids[: len(start)] != start or ids[: len(end)] != end:
            raise ValueError(
                f"the chat template renders messages[:{i}] differently when more messages follow, "
                "so the assistant's tokens cannot be told apart from the prompt's"
            )
        labels[len(start) : len(end)] = ids[len(start) : len(end)]
    if max_length is not None:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels}


def collate(
    examples: Sequence[Mapping[str, Sequence[int]]], pad_id: int, *, padding_side: str = "right"
) -> dict[str, torch.Tensor]:
    """Pad encoded examples into a batch; padding gets attention mask 0 and label `IGNORE_INDEX`.

    Padding is found from each example's length, never by comparing ids with `pad_id`: many chat models pad
    with their end-of-turn token, and masking every token equal to it would also hide the real end of each
    reply from the loss.

    Args:
        examples: B dicts with ``input_ids`` and ``labels`` of equal, non-zero length (from `encode_chat`).
        pad_id: the id written into padded positions of ``input_ids`` (any id: it is never attended to).
        padding_side: ``"right"`` for training, ``"left"`` to generate from the end of every prompt.

    Returns:
        ``input_ids``, ``attention_mask`` and ``labels``: (B, T) int64 tensors, T the longest example.

    Raises:
        ValueError: `examples` is empty, an example is empty or its lists differ in length, a key is
            missing, `pad_id` < 0, or `padding_side` is neither "right" nor "left".
    """
    check_int("pad_id", pad_id, ge=0)
    check_choice("padding_side", padding_side, ("right", "left"))
    if len(examples) == 0:
        raise ValueError("examples must hold at least one example")
    for i, ex in enumerate(examples):
        for key in ("input_ids", "labels"):
            if key not in ex:
                raise ValueError(f"examples[{i}] has no {key!r}")
        if len(ex["input_ids"]) == 0 or len(ex["input_ids"]) != len(ex["labels"]):
            raise ValueError(
                f"examples[{i}] must have input_ids and labels of the same non-zero length, "
                f"got {len(ex['input_ids'])} and {len(ex['labels'])}"
            )
    width = max(len(ex["input_ids"]) for ex in examples)
    out = {
        "input_ids": torch.full((len(examples), width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros(len(examples), width, dtype=torch.long),
        "labels": torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long),
    }
    for i, ex in enumerate(examples):
        n = len(ex["input_ids"])
        span = slice(0, n) if padding_side == "right" else slice(width - n, width)
        out["input_ids"][i, span] = torch.as_tensor(ex["input_ids"], dtype=torch.long)
        out["attention_mask"][i, span] = 1
        out["labels"][i, span] = torch.as_tensor(ex["labels"], dtype=torch.long)
    return out


def _check_logits_labels(logits: object, labels: object) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
        raise ValueError(f"logits must be a (B, T, V) tensor, got {getattr(logits, 'shape', type(logits))!r}")
    if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:2]:
        got = getattr(labels, "shape", type(labels))
        want = tuple(logits.shape[:2])
        raise ValueError(f"labels must be a (B, T) tensor matching logits {want}, got {got!r}")


def masked_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The SFT loss: mean negative log-likelihood of the labelled tokens, each predicted from the one before.

    Position t's logits predict token t + 1, so the logits are shifted left against the labels, as
    Hugging Face causal LMs do when they are given ``labels``. The mean is over all labelled tokens of the
    batch together (a long reply weighs more than a short one), again as those models and `trl` compute it.

    Args:
        logits: (B, T, V) next-token logits.
        labels: (B, T) token ids, `IGNORE_INDEX` where no loss is taken.

    Returns:
        A scalar tensor, differentiable with respect to `logits`.

    Raises:
        ValueError: the shapes do not match, or no token after the first is labelled.
    """
    _check_logits_labels(logits, labels)
    target = labels[:, 1:]
    if not (target != IGNORE_INDEX).any():
        raise ValueError("labels hold no token to predict: every label after the first is IGNORE_INDEX")
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), target.flatten(), ignore_index=IGNORE_INDEX)


def teacher_forced_match(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per example: is the most likely next token the label at every labelled position?

    Fed the reference reply, a model whose argmax agrees with every token of it (end-of-turn included)
    would write exactly that reply under greedy decoding, so this is exact match without generating.

    Args:
        logits: (B, T, V) next-token logits of prompt + reference reply.
        labels: (B, T) token ids, `IGNORE_INDEX` where nothing is checked; each example labels a token.

    Returns:
        (B,) bool.

    Raises:
        ValueError: the shapes do not match, or an example has no labelled token after the first.
    """
    _check_logits_labels(logits, labels)
    target = labels[:, 1:]
    scored = target != IGNORE_INDEX
    if not scored.any(1).all():
        raise ValueError("every example needs a labelled token after the first")
    return ((logits[:, :-1].argmax(-1) == target) | ~scored).all(1)


@torch.no_grad()
def teacher_forced_scores(
    model: torch.nn.Module,
    examples: Sequence[Mapping[str, Sequence[int]]],
    *,
    pad_id: int,
    shared_prefix: int = 0,
) -> dict[str, torch.Tensor]:
    """Exact match, NLL and token accuracy of a causal LM fed the reference replies, in one forward pass.

    When every example starts with the same `shared_prefix` tokens (a system prompt, few-shot examples),
    those are run once and their key-value cache is copied to every row, so each row pays only for its own
    tokens. The result equals that of a plain forward pass of the whole batch (up to float rounding).

    Args:
        model: a `transformers` causal LM (a `peft` model too) in eval mode.
        examples: B encoded chats (`encode_chat`), each labelling at least one token after `shared_prefix`.
        pad_id: the id written into padding.
        shared_prefix: how many leading tokens all examples share (0: no cache).

    Returns:
        ``exact``: (B,) bool, `teacher_forced_match` per example; ``nll``: the mean NLL per labelled token
        (`masked_nll`); ``token_accuracy``: the share of labelled tokens that are the most likely next token.

    Raises:
        ValueError: `examples` is empty, `shared_prefix` < 0, an example does not start with the first
            example's `shared_prefix` tokens, labels a token inside it, or has nothing labelled after it.
    """
    from transformers import DynamicCache

    check_int("shared_prefix", shared_prefix, ge=0)
    check_int("pad_id", pad_id, ge=0)
    if len(examples) == 0:
        raise ValueError("examples must hold at least one example")
    head = list(examples[0]["input_ids"][:shared_prefix])
    for i, ex in enumerate(examples):
        if len(ex["input_ids"]) <= shared_prefix or list(ex["input_ids"][:shared_prefix]) != head:
            raise ValueError(f"examples[{i}] does not start with the {shared_prefix} tokens of examples[0]")
        if any(label != IGNORE_INDEX for label in ex["labels"][:shared_prefix]):
            raise ValueError(f"examples[{i}] labels a token inside the shared prefix of {shared_prefix}")
    cut = max(shared_prefix - 1, 0)  # the prefix's last token stays in each row: it predicts the next one
    rows = [{"input_ids": ex["input_ids"][cut:], "labels": ex["labels"][cut:]} for ex in examples]
    batch = collate(rows, pad_id=pad_id)
    mask, extra = batch["attention_mask"], {}
    if cut:
        cache = DynamicCache()
        model(input_ids=torch.tensor([head[:cut]]), cache=cache, use_cache=True)
        cache.batch_repeat_interleave(len(examples))
        mask = torch.cat([torch.ones(len(examples), cut, dtype=torch.long), mask], 1)
        extra = {"cache": cache, "use_cache": True}
    logits = model(input_ids=batch["input_ids"], attention_mask=mask, **extra).logits
    labels = batch["labels"]
    target = labels[:, 1:]
    scored = target != IGNORE_INDEX
    return {
        "exact": teacher_forced_match(logits, labels),
        "nll": masked_nll(logits, labels),
        "token_accuracy": (logits[:, :-1].argmax(-1) == target)[scored].float().mean(),
    }
