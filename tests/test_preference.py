"""lessons.preference: preference pairs, completion log-probabilities, Bradley-Terry, DPO and GRPO."""

import math

import pytest
import torch
import torch.nn.functional as F

from lessons.preference import (
    FLAWS,
    bradley_terry_loss,
    completion_logprobs,
    dpo_loss,
    encode_completions,
    group_advantages,
    load_preference_pairs,
    sequence_logprobs,
)


def test_pairs_are_balanced_distinct_and_clean():
    pairs = load_preference_pairs()
    assert list(pairs.columns) == ["flaw", "prompt", "chosen", "rejected"]
    assert pairs["flaw"].value_counts().to_dict() == dict.fromkeys(FLAWS, 40)
    assert list(pairs["flaw"][:6]) == [*FLAWS, *FLAWS]  # rows cycle through the flaws
    assert pairs["prompt"].is_unique and (pairs["chosen"] != pairs["rejected"]).all()
    assert not pairs.isna().any().any()


class _Bigram(torch.nn.Module):
    """A toy causal LM: the logits at position t depend on token t only."""

    def __init__(self, vocab: int = 7) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab))

    def forward(self, input_ids, attention_mask=None, use_cache=False):
        return type("Out", (), {"logits": self.table[input_ids]})


def test_completion_logprobs_score_only_completion_tokens():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    ids = torch.tensor([[1, 2, 3, 4, 0], [5, 6, 1, 0, 0]])
    mask = torch.tensor([[0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
    logp = torch.log_softmax(logits, -1)
    expected = torch.stack([logp[0, 1, 3] + logp[0, 2, 4], logp[1, 0, 6] + logp[1, 1, 1]])
    torch.testing.assert_close(completion_logprobs(logits, ids, mask), expected)
    # what sits under the mask (prompt tokens' own logits, the padding) changes nothing
    changed = logits.clone()
    changed[0, 3:] = 100.0
    changed[1, 2:] = -3.0
    torch.testing.assert_close(completion_logprobs(changed, ids, mask), expected)


def test_sequence_logprobs_runs_the_model():
    torch.manual_seed(0)
    model = _Bigram()
    batch = {
        "input_ids": torch.tensor([[1, 2, 3]]),
        "attention_mask": torch.ones(1, 3, dtype=torch.long),
        "completion_mask": torch.tensor([[0, 1, 1]]),
    }
    logp = torch.log_softmax(model.table, -1)
    torch.testing.assert_close(sequence_logprobs(model, batch), (logp[1, 2] + logp[2, 3]).reshape(1))
    with pytest.raises(ValueError, match=r"batch lacks \['completion_mask'\]"):
        sequence_logprobs(model, {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]})


def test_completion_logprobs_errors_name_the_argument():
    logits, ids = torch.randn(2, 4, 5), torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="logits must be a"):
        completion_logprobs(torch.randn(2, 4), ids, ids)
    with pytest.raises(ValueError, match="input_ids .* and completion_mask"):
        completion_logprobs(logits, ids[:, :3], ids)
    with pytest.raises(ValueError, match="position 0"):
        completion_logprobs(logits, ids, torch.ones(2, 4))
    with pytest.raises(TypeError, match="input_ids must be a torch.Tensor"):
        completion_logprobs(logits, [[0]], ids)


def test_bradley_terry_is_binary_cross_entropy_on_the_margin():
    torch.manual_seed(0)
    rc, rr = torch.randn(10), torch.randn(10)
    expected = F.binary_cross_entropy_with_logits(rc - rr, torch.ones(10))
    torch.testing.assert_close(bradley_terry_loss(rc, rr), expected)
    assert bradley_terry_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match=r"r_rejected has shape \(3,\), r_chosen has \(4,\)"):
        bradley_terry_loss(torch.zeros(4), torch.zeros(3))
    with pytest.raises(ValueError, match="r_chosen must be a non-empty"):
        bradley_terry_loss(torch.zeros(0), torch.zeros(0))


def test_dpo_loss_is_bradley_terry_on_implicit_rewards():
    torch.manual_seed(0)
    pc, pr, rc, rr = torch.randn(4, 6).unbind()
    margin = 0.5 * ((pc - rc) - (pr - rr))
    torch.testing.assert_close(dpo_loss(pc, pr, rc, rr, beta=0.5), -F.logsigmoid(margin).mean())
    # policy = reference: every implicit reward is 0 and the loss is log 2
    assert dpo_loss(pc, pr, pc, pr).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        dpo_loss(pc, pr, rc, rr, beta=0.0)
    with pytest.raises(ValueError, match="ref_rejected has shape"):
        dpo_loss(pc, pr, rc, rr[:3])


def test_group_advantages():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0], [0.0, 1.0, 2.0, 3.0]])
    adv = group_advantages(rewards)
    torch.testing.assert_close(adv.sum(1), torch.zeros(3), atol=1e-5, rtol=0)
    assert torch.equal(
        adv[1], torch.zeros(4)
    )  # a group where every completion scores the same teaches nothing
    torch.testing.assert_close(
        group_advantages(10 * rewards + 3)[[0, 2]], adv[[0, 2]], atol=3e-4, rtol=0
    )  # up to eps
    with pytest.raises(ValueError, match="rewards must be a"):
        group_advantages(torch.ones(4))
    with pytest.raises(ValueError, match="rewards must be a"):
        group_advantages(torch.ones(3, 1))
    with pytest.raises(ValueError, match="eps must be"):
        group_advantages(rewards, eps=-1.0)


class _Template:
    """A stand-in tokenizer: one id per character, a chat template of tagged turns."""

    pad_token_id = 0
    eos_token_id = 0

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=True, return_dict=True):
        text = "".join(f"<{m['role'][0]}>{m['content']}|" for m in messages) + (
            "<a>" if add_generation_prompt else ""
        )
        return {"input_ids": [ord(c) for c in text]}


def test_encode_completions_masks_the_reply():
    batch = encode_completions(_Template(), ["hi", "hello"], ["yo", "a"])
    assert batch["input_ids"].shape == (2, len("<u>hello|<a>a|"))
    first = "".join(
        chr(i)
        for i, m in zip(batch["input_ids"][0].tolist(), batch["completion_mask"][0].tolist(), strict=True)
        if m
    )
    assert first == "yo|"
    assert batch["attention_mask"].sum(1).tolist() == [len("<u>hi|<a>yo|"), len("<u>hello|<a>a|")]
    assert (batch["completion_mask"] <= batch["attention_mask"]).all()
    with_system = encode_completions(_Template(), ["hi"], ["yo"], system="")
    assert with_system["input_ids"].shape[1] == batch["attention_mask"][0].sum() + len("<s>|")


def test_encode_completions_errors():
    with pytest.raises(ValueError, match="prompts must not be empty"):
        encode_completions(_Template(), [], [])
    with pytest.raises(ValueError, match="completions has 1 texts, prompts has 2"):
        encode_completions(_Template(), ["a", "b"], ["c"])
    with pytest.raises(ValueError, match="prompts must be a sequence of strings"):
        encode_completions(_Template(), "ab", ["c", "d"])
    with pytest.raises(ValueError, match="system must be a string"):
        encode_completions(_Template(), ["a"], ["b"], system=1)
