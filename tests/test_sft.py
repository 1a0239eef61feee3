"""lessons.sft: chat encoding with assistant-only labels, padding, masked loss, teacher-forced match."""

import json

import pytest
import torch
import torch.nn.functional as F

from lessons.datasets.instructions import PROFILE_KEYS, load_profile_task, profile_reply
from lessons.sft import IGNORE_INDEX, check_messages, collate, encode_chat, masked_nll, teacher_forced_match


@pytest.fixture(scope="module")
def tokenizer():
    from lessons.pretrained import load_smollm2_tokenizer

    return load_smollm2_tokenizer()


CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome."},
]


def test_only_the_assistant_turns_are_labelled(tokenizer):
    enc = encode_chat(tokenizer, CHAT)
    text = tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert enc["input_ids"] == tokenizer(text, add_special_tokens=False)["input_ids"]
    kept = [lab for lab in enc["labels"] if lab != IGNORE_INDEX]
    assert tokenizer.decode(kept) == "Paris.<|im_end|>\nRome.<|im_end|>\n"  # replies, end of turn included
    for i, lab in zip(enc["input_ids"], enc["labels"], strict=True):
        assert lab in (i, IGNORE_INDEX)
    # Each labelled span starts right after "<|im_start|>assistant\n", which itself is not labelled.
    first = enc["labels"].index(next(lab for lab in enc["labels"] if lab != IGNORE_INDEX))
    assert tokenizer.decode(enc["input_ids"][:first]).endswith("<|im_start|>assistant\n")


def test_truncation_keeps_ids_and_labels_aligned(tokenizer):
    full = encode_chat(tokenizer, CHAT)
    cut = encode_chat(tokenizer, CHAT, max_length=10)
    assert cut == {"input_ids": full["input_ids"][:10], "labels": full["labels"][:10]}


def test_bad_chats_name_the_problem(tokenizer):
    with pytest.raises(ValueError, match="at least one assistant message"):
        encode_chat(tokenizer, CHAT[:2])
    with pytest.raises(ValueError, match=r"messages\[1\]\['role'\] must be one of"):
        encode_chat(tokenizer, [CHAT[0], {"role": "bot", "content": "hi"}])
    with pytest.raises(TypeError, match="messages must be a list"):
        encode_chat(tokenizer, "hello")
    with pytest.raises(TypeError, match="messages must be a list"):
        check_messages(CHAT[0])
    with pytest.raises(ValueError, match="at least one message"):
        check_messages([])
    with pytest.raises(ValueError, match=r"messages\[0\] has no 'content'"):
        check_messages([{"role": "user"}])
    with pytest.raises(TypeError, match=r"messages\[0\]\['content'\] must be a str"):
        check_messages([{"role": "user", "content": 3}])
    with pytest.raises(TypeError, match=r"messages\[0\] must be a dict"):
        check_messages([("user", "hi")])
    with pytest.raises(ValueError, match="max_length must be an int >= 1"):
        encode_chat(tokenizer, CHAT, max_length=0)


def test_a_template_that_rewrites_the_past_is_refused(tokenizer):
    import copy

    odd = copy.deepcopy(tokenizer)
    # Marks the last message differently: rendering more messages changes how the earlier ones look.
    odd.chat_template = (
        "{% for m in messages %}{{ m['role'] }}{% if loop.last %}!{% endif %}: "
        "{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    with pytest.raises(ValueError, match="renders messages"):
        encode_chat(odd, CHAT[:3])


def test_collate_pads_by_length_not_by_id():
    eos = 2
    a = {"input_ids": [5, 6, eos], "labels": [IGNORE_INDEX, 6, eos]}
    b = {"input_ids": [7, eos], "labels": [IGNORE_INDEX, eos]}
    right = collate([a, b], pad_id=eos)  # padding with the end-of-turn token, as SmolLM2 does
    assert right["input_ids"].tolist() == [[5, 6, eos], [7, eos, eos]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert right["labels"].tolist() == [[IGNORE_INDEX, 6, eos], [IGNORE_INDEX, eos, IGNORE_INDEX]]
    left = collate([a, b], pad_id=0, padding_side="left")
    assert left["input_ids"].tolist() == [[5, 6, eos], [0, 7, eos]]
    assert left["attention_mask"].tolist() == [[1, 1, 1], [0, 1, 1]]
    assert left["labels"].tolist() == [[IGNORE_INDEX, 6, eos], [IGNORE_INDEX, IGNORE_INDEX, eos]]
    assert all(t.dtype == torch.long for t in right.values())


def test_collate_errors():
    good = {"input_ids": [1, 2], "labels": [1, 2]}
    with pytest.raises(ValueError, match="examples must hold at least one"):
        collate([], pad_id=0)
    with pytest.raises(ValueError, match=r"examples\[1\] must have input_ids and labels of the same"):
        collate([good, {"input_ids": [1, 2], "labels": [1]}], pad_id=0)
    with pytest.raises(ValueError, match=r"examples\[0\] must have .* non-zero length"):
        collate([{"input_ids": [], "labels": []}], pad_id=0)
    with pytest.raises(ValueError, match=r"examples\[0\] has no 'labels'"):
        collate([{"input_ids": [1]}], pad_id=0)
    with pytest.raises(ValueError, match="pad_id must be an int >= 0"):
        collate([good], pad_id=-1)
    with pytest.raises(ValueError, match="padding_side must be one of"):
        collate([good], pad_id=0, padding_side="middle")


def test_masked_nll_is_the_mean_over_labelled_tokens_only():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, requires_grad=True)
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 3, 4, 1], [IGNORE_INDEX, 6, IGNORE_INDEX, 0, 2]])
    loss = masked_nll(logits, labels)
    logp = logits.log_softmax(-1)
    pairs = [(b, t) for b in range(2) for t in range(1, 5) if labels[b, t] != IGNORE_INDEX]
    terms = [-logp[b, t - 1, labels[b, t]] for b, t in pairs]
    torch.testing.assert_close(loss, torch.stack(terms).mean())
    loss.backward()
    unused = torch.ones(2, 5, dtype=torch.bool)
    unused[:, :-1] = labels[:, 1:] == IGNORE_INDEX  # positions that predict nothing labelled, and the last
    assert (logits.grad[unused] == 0).all() and (logits.grad[~unused] != 0).any(-1).all()
    hf = F.cross_entropy(logits[:, :-1].reshape(-1, 7), labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(loss, hf)


def test_masked_nll_errors():
    with pytest.raises(ValueError, match="logits must be a"):
        masked_nll(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be a"):
        masked_nll(torch.zeros(1, 3, 4), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="no token to predict"):
        masked_nll(torch.zeros(1, 3, 4), torch.tensor([[1, IGNORE_INDEX, IGNORE_INDEX]]))


def test_teacher_forced_match():
    labels = torch.tensor([[IGNORE_INDEX, 2, 3], [IGNORE_INDEX, 2, 3]])
    logits = torch.zeros(2, 3, 4)
    logits[:, 0, 2] = 1  # both predict 2 after position 0
    logits[0, 1, 3] = 1  # only the first predicts 3 after position 1
    logits[1, 1, 1] = 1
    assert teacher_forced_match(logits, labels).tolist() == [True, False]
    with pytest.raises(ValueError, match="every example needs a labelled token"):
        teacher_forced_match(logits, torch.tensor([[IGNORE_INDEX, 2, 3], [0, IGNORE_INDEX, IGNORE_INDEX]]))


def test_profile_task_is_consistent():
    train, test = load_profile_task()
    assert (len(train), len(test)) == (60, 20)
    people = []
    for chat in train + test:
        assert [m["role"] for m in chat] == ["system", "user", "assistant"]
        reply = json.loads(chat[2]["content"])
        assert tuple(reply) == PROFILE_KEYS and isinstance(reply["age"], int)
        assert chat[2]["content"] == profile_reply(reply["name"], reply["age"], reply["city"])
        for value in reply.values():
            assert str(value) in chat[1]["content"]
        people.append(reply)
    assert len({p["name"] for p in people}) == 80
    held_out_names = {p["name"] for p in people[60:]}
    held_out_cities = {p["city"] for p in people[60:]}
    assert not held_out_names & {p["name"] for p in people[:60]}
    assert not held_out_cities & {p["city"] for p in people[:60]}


@pytest.fixture(scope="module")
def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def _examples(prefix, tails):
    return [{"input_ids": prefix + t, "labels": [IGNORE_INDEX] * (len(prefix) + 1) + t[1:]} for t in tails]


def test_teacher_forced_scores_with_a_shared_prefix_equal_a_plain_forward(tiny_llama):
    from lessons.sft import teacher_forced_scores

    examples = _examples([3, 4, 5, 6, 7], [[8, 9, 10, 11], [12, 13], [14, 15, 16]])
    plain = teacher_forced_scores(tiny_llama, examples, pad_id=0)
    cached = teacher_forced_scores(tiny_llama, examples, pad_id=0, shared_prefix=5)
    batch = collate(examples, pad_id=0)
    with torch.no_grad():
        logits = tiny_llama(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.equal(plain["exact"], teacher_forced_match(logits, batch["labels"]))
    torch.testing.assert_close(plain["nll"], masked_nll(logits, batch["labels"]))
    torch.testing.assert_close(cached["nll"], plain["nll"])
    torch.testing.assert_close(cached["token_accuracy"], plain["token_accuracy"])
    assert torch.equal(cached["exact"], plain["exact"])
    # a label on the token right after the prefix is scored from the prefix's last position
    first = [{"input_ids": [3, 4, 5, 6], "labels": [IGNORE_INDEX] * 3 + [6]}] * 2
    torch.testing.assert_close(
        teacher_forced_scores(tiny_llama, first, pad_id=0, shared_prefix=3)["nll"],
        teacher_forced_scores(tiny_llama, first, pad_id=0)["nll"],
    )


def test_teacher_forced_scores_errors(tiny_llama):
    from lessons.sft import teacher_forced_scores

    examples = _examples([3, 4, 5], [[8, 9, 10], [12, 13]])
    with pytest.raises(ValueError, match="shared_prefix"):
        teacher_forced_scores(tiny_llama, examples, pad_id=0, shared_prefix=-1)
    with pytest.raises(ValueError, match="at least one example"):
        teacher_forced_scores(tiny_llama, [], pad_id=0)
    with pytest.raises(ValueError, match=r"examples\[1\] does not start"):
        other = {**examples[1], "input_ids": [9, 4, 5, 12, 13]}
        teacher_forced_scores(tiny_llama, [examples[0], other], pad_id=0, shared_prefix=3)
    with pytest.raises(ValueError, match="inside the shared prefix"):
        teacher_forced_scores(tiny_llama, examples, pad_id=0, shared_prefix=5)
