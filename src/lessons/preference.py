"""Learning from preferences: the pieces of a reward model, DPO and GRPO, written once and unit-tested.

A preference pair is a prompt with two answers, one a person preferred (*chosen*) and one they did not
(*rejected*). `load_preference_pairs` reads the 120 pairs written for this course. The rest are the
formulas of Phase 12's RLHF page:

- `encode_completions` turns (prompt, completion) pairs into a right-padded batch in the chat template, with
  a mask over the completion's tokens, laid out like `trl`'s ``DataCollatorForPreference``;
- `completion_logprobs` sums the log-probabilities a causal LM gives to the completion tokens only, and
  `sequence_logprobs` does it from a model and a batch;
- `bradley_terry_loss` is the reward model's loss, ``-log sigmoid(r_chosen - r_rejected)``;
- `dpo_loss` is the DPO loss of Rafailov et al. (2023) from four sequence log-probabilities;
- `group_advantages` is GRPO's group-relative advantage (Shao et al., 2024).

Examples:
    >>> import torch
    >>> round(bradley_terry_loss(torch.tensor([1.0]), torch.tensor([1.0])).item(), 4)  # a tie: log 2
    0.6931
    >>> [round(a, 3) for a in group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))[0].tolist()]
    [0.866, -0.866, -0.866, 0.866]
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd
import torch
import torch.nn.functional as F

from lessons.checks import check_float, check_tensor

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "FLAWS",
    "load_preference_pairs",
    "encode_completions",
    "completion_logprobs",
    "sequence_logprobs",
    "bradley_terry_loss",
    "dpo_loss",
    "group_advantages",
]

FLAWS = ("rude", "wrong", "off-topic")


def load_preference_pairs() -> pd.DataFrame:
    """120 (prompt, chosen, rejected) triples written for this course, with what is wrong with the rejected.

    Every prompt is a simple question or request; the chosen answer is correct, polite and one sentence long.
    The rejected answer has one flaw, in turn: ``rude`` (the right content, delivered with an insult),
    ``wrong`` (polite and fluent, with a false fact) or ``off-topic`` (a true sentence about something
    else). So the preference is checkable: anyone can say which answer is better and why. Rows cycle through
    the three flaws, 40 of each. Source and licence: ``lessons/data/README.md``.

    Returns:
        A DataFrame of 120 rows with columns ``flaw`` (one of `FLAWS`), ``prompt``, ``chosen`` and
        ``rejected``.
    """
    text = resources.files("lessons").joinpath("data/preferences.tsv").read_text(encoding="utf-8")
    return pd.read_csv(io.StringIO(text), sep="\t")


def _check_texts(name: str, texts: Sequence[str], size: int | None = None) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name} must be a sequence of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{name} must not be empty")
    if size is not None and len(texts) != size:
        raise ValueError(f"{name} has {len(texts)} texts, prompts has {size}")
    return list(texts)


def encode_completions(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    system: str | None = None,
) -> dict[str, torch.Tensor]:
    """Tokenise each prompt as a user turn and its completion as the assistant's reply, in the chat template.

    The prompt part is ``apply_chat_template([user], add_generation_prompt=True)``, the whole sequence is
    ``apply_chat_template([user, assistant])``; the completion is what the whole adds to the prompt (the reply
    and the template's end-of-turn tokens). Sequences are right-padded with the tokenizer's pad token, as
    `trl`'s ``DataCollatorForPreference`` does.

    Args:
        tokenizer: a tokenizer with a chat template (SmolLM2's).
        prompts: ``batch`` user messages.
        completions: ``batch`` assistant replies, one per prompt.
        system: a system message put before every prompt; None leaves the template's default (SmolLM2's names
            itself), ``""`` gives an empty one, which saves SmolLM2 16 tokens a sequence.

    Returns:
        ``input_ids``, ``attention_mask`` and ``completion_mask``, each a ``(batch, max_len)`` long tensor;
        ``completion_mask`` is 1 on the completion's tokens and 0 on the prompt and the padding.

    Raises:
        ValueError: `prompts` or `completions` is empty, not a sequence of strings, or of unequal length.
    """
    if system is not None and not isinstance(system, str):
        raise ValueError(f"system must be a string or None, got {type(system).__name__}")
    prompts = _check_texts("prompts", prompts)
    completions = _check_texts("completions", completions, len(prompts))
    rows, masks = [], []
    for prompt, completion in zip(prompts, completions, strict=True):
        user = [] if system is None else [{"role": "system", "content": system}]
        user.append({"role": "user", "content": prompt})
        head = list(
            tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )
        full = list(
            tokenizer.apply_chat_template(
                [*user, {"role": "assistant", "content": completion}], tokenize=True, return_dict=True
            )["input_ids"]
        )
        if full[: len(head)] != head:  # pragma: no cover - holds for SmolLM2's template
            raise ValueError("the chat template renders the prompt differently when a reply follows")
        rows.append(full)
        masks.append([0] * len(head) + [1] * (len(full) - len(head)))
    length = max(map(len, rows))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.tensor([r + [pad] * (length - len(r)) for r in rows])
    attention_mask = torch.tensor([[1] * len(r) + [0] * (length - len(r)) for r in rows])
    completion_mask = torch.tensor([m + [0] * (length - len(m)) for m in masks])
    return {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}


def completion_logprobs(
    logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> torch.Tensor:
    """log p(completion | prompt): the sum of the log-probabilities of the completion's tokens.

    Position ``t`` of `logits` predicts token ``t + 1``, so token ``t`` of `input_ids` is scored by
    ``logits[:, t - 1]``; tokens whose `completion_mask` is 0 (the prompt, the padding) add nothing.

    Args:
        logits: ``(batch, seq_len, vocab)`` float tensor, a causal LM's output on `input_ids`.
        input_ids: ``(batch, seq_len)`` long tensor.
        completion_mask: ``(batch, seq_len)`` tensor, 1 where a token belongs to the completion.

    Returns:
        ``(batch,)`` float tensor of summed log-probabilities (0 for a row with no completion token).

    Raises:
        ValueError: the shapes do not fit together, or a completion token sits at position 0 (nothing
            predicts it).
    """
    logits = check_tensor("logits", logits)
    input_ids = check_tensor("input_ids", input_ids)
    completion_mask = check_tensor("completion_mask", completion_mask)
    if logits.ndim != 3 or not logits.is_floating_point():
        raise ValueError(
            f"logits must be a (batch, seq_len, vocab) float tensor, got shape {tuple(logits.shape)}"
        )
    if input_ids.shape != logits.shape[:2] or completion_mask.shape != input_ids.shape:
        raise ValueError(
            f"input_ids {tuple(input_ids.shape)} and completion_mask {tuple(completion_mask.shape)} "
            "must both be "
            f"(batch, seq_len) = {tuple(logits.shape[:2])}"
        )
    if completion_mask[:, 0].any():
        raise ValueError(
            "completion_mask marks position 0, which no logit predicts: a completion needs a prompt"
        )
    logp = torch.log_softmax(
        logits[:, :-1].float(), dim=-1
    )  # (batch, seq_len - 1, vocab): predicts tokens 1..
    token_logp = logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (batch, seq_len - 1)
    return (token_logp * completion_mask[:, 1:].to(token_logp.dtype)).sum(-1)


def sequence_logprobs(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """`completion_logprobs` of a causal LM on a batch made by `encode_completions` (or trl's collator).

    Args:
        model: a causal LM (``model(input_ids, attention_mask).logits`` is ``(batch, seq_len, vocab)``).
        batch: ``input_ids``, ``attention_mask`` and ``completion_mask``, each ``(batch, seq_len)``.

    Returns:
        ``(batch,)`` float tensor; differentiable if the model is.

    Raises:
        ValueError: a key is missing from `batch`.
    """
    missing = {"input_ids", "attention_mask", "completion_mask"} - set(batch)
    if missing:
        raise ValueError(f"batch lacks {sorted(missing)}")
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).logits
    return completion_logprobs(logits, batch["input_ids"], batch["completion_mask"])


def _check_same_shape(**tensors: torch.Tensor) -> list[torch.Tensor]:
    values = [check_tensor(name, t) for name, t in tensors.items()]
    first_name, first = next(iter(tensors)), values[0]
    if first.ndim != 1 or first.numel() == 0 or not first.is_floating_point():
        raise ValueError(
            f"{first_name} must be a non-empty (batch,) float tensor, got shape {tuple(first.shape)}"
        )
    for name, value in zip(tensors, values, strict=True):
        if value.shape != first.shape:
            raise ValueError(f"{name} has shape {tuple(value.shape)}, {first_name} has {tuple(first.shape)}")
    return values


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """The reward model's loss: the mean of ``-log sigmoid(r_chosen - r_rejected)``.

    Under the Bradley-Terry model ``P(chosen > rejected) = sigmoid(r_chosen - r_rejected)``, so this is the
    negative log-likelihood of the observed preferences.

    Args:
        r_chosen: ``(batch,)`` float tensor, the rewards of the preferred answers.
        r_rejected: ``(batch,)`` float tensor, the rewards of the other answers.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: the tensors are not non-empty, 1-D, floating and of equal shape.
    """
    r_chosen, r_rejected = _check_same_shape(r_chosen=r_chosen, r_rejected=r_rejected)
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """The DPO loss (Rafailov et al., 2023), Bradley-Terry on the implicit rewards ``beta * log(pi/pi_ref)``.

    ``-log sigmoid(beta * ((log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))))``, averaged
    over the batch, with every log-probability that of a whole completion given its prompt.

    Args:
        policy_chosen: ``(batch,)`` log pi(chosen | prompt) under the model being trained.
        policy_rejected: ``(batch,)`` log pi(rejected | prompt) under the model being trained.
        ref_chosen: ``(batch,)`` the same under the frozen reference model.
        ref_rejected: ``(batch,)`` the same under the frozen reference model.
        beta: the strength of the KL penalty that ties the policy to the reference (> 0).

    Returns:
        A scalar tensor.

    Raises:
        ValueError: a tensor is not a non-empty 1-D float tensor of the common shape, or `beta` is not
            positive.
    """
    beta = check_float("beta", beta, gt=0)
    pc, pr, rc, rr = _check_same_shape(
        policy_chosen=policy_chosen,
        policy_rejected=policy_rejected,
        ref_chosen=ref_chosen,
        ref_rejected=ref_rejected,
    )
    return bradley_terry_loss(beta * (pc - rc), beta * (pr - rr))


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantages: each completion's reward against the other completions of the same prompt.

    ``A_i = (r_i - mean(r)) / (std(r) + eps)`` within each group (row), with the unbiased standard deviation,
    as in DeepSeekMath (Shao et al., 2024) and `trl`'s ``GRPOTrainer`` (``scale_rewards="group"``). The group
    mean plays the part of PPO's learned value baseline.

    Args:
        rewards: ``(groups, group_size)`` float tensor, the rewards of ``group_size`` completions per prompt.
        eps: added to the standard deviation, so that a group of equal rewards gets advantages 0.

    Returns:
        ``(groups, group_size)`` float tensor; every row sums to (about) 0.

    Raises:
        ValueError: `rewards` is not a 2-D float tensor with at least 2 completions per group, or `eps` < 0.
    """
    rewards = check_tensor("rewards", rewards)
    eps = check_float("eps", eps, ge=0)
    if rewards.ndim != 2 or rewards.shape[1] < 2 or not rewards.is_floating_point():
        raise ValueError(
            f"rewards must be a (groups, group_size >= 2) float tensor, got shape {tuple(rewards.shape)}"
        )
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True)
    return (rewards - mean) / (std + eps)
