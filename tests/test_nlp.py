"""lessons.nlp: the Lee corpus and gensim's benchmarks, skip-gram pairs and loss, co-occurrences, scores."""

import math

import numpy as np
import pytest
import torch

from lessons.nlp import (
    SkipGramNS,
    WordVocab,
    analogy_3cosadd,
    category_auc,
    cooccurrence,
    gensim_test_file,
    load_analogies,
    load_lee_corpus,
    load_wordsim353,
    noise_distribution,
    skipgram_pairs,
    subsample_keep,
    wordsim_spearman,
)


def test_shipped_data_has_the_documented_sizes():
    docs = load_lee_corpus()
    assert len(docs) == 300 and sum(map(len, docs)) == 58_152
    assert all(w == w.lower() for d in docs for w in d)
    pairs = load_wordsim353()
    assert len(pairs) == 353 and ("tiger", "cat", 7.35) in pairs
    analogies = load_analogies()
    assert len(analogies) == 14 and sum(map(len, analogies.values())) == 19_544
    assert analogies["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")


def test_missing_gensim_file_is_named():
    with pytest.raises(FileNotFoundError, match="no-such-file.txt"):
        gensim_test_file("no-such-file.txt")


def test_vocab_orders_by_count_then_alphabet_and_drops_rare_words():
    vocab = WordVocab.build([["b", "a", "c"], ["a", "b", "d", "a"]], min_count=2)
    assert vocab.words == ["a", "b"] and vocab.counts.tolist() == [3, 2] and len(vocab) == 2
    assert vocab.encode(["d", "b", "a"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="min_count=9"):
        WordVocab.build([["a"]], min_count=9)
    with pytest.raises(ValueError, match="min_count"):
        WordVocab.build([["a"]], min_count=0)
    with pytest.raises(TypeError, match="token lists"):
        WordVocab.build(["a sentence, not tokens"])
    with pytest.raises(ValueError, match="differ in length"):
        WordVocab(["a"], np.array([1, 2]))


def test_subsampling_follows_word2vecs_formula():
    counts = np.array([1000, 10, 1])
    keep = subsample_keep(counts, sample=0.05)
    z = counts[0] / counts.sum()
    assert keep[0] == pytest.approx((math.sqrt(z / 0.05) + 1) * 0.05 / z) and keep[0] < 0.3
    assert keep[1] == keep[2] == 1.0
    with pytest.raises(ValueError, match="sample"):
        subsample_keep(counts, sample=0)
    with pytest.raises(ValueError, match="counts"):
        subsample_keep(np.array([3, 0]))


def test_noise_distribution_is_normalised_and_flattened():
    p = noise_distribution(np.array([16, 1]), power=0.75)
    assert float(p.sum()) == pytest.approx(1.0) and float(p[0] / p[1]) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="power"):
        noise_distribution(np.array([1, 2]), power=-1)


def test_skipgram_pairs_match_a_brute_force_loop():
    ids = [np.arange(10), np.arange(10, 14)]
    rng = np.random.default_rng(0)
    centres, contexts = skipgram_pairs(ids, window=3, rng=rng)
    rng = np.random.default_rng(0)
    expected = []
    for doc in ids:
        b = rng.integers(1, 4, len(doc))
        expected += [
            (doc[i], doc[j]) for i in range(len(doc)) for j in range(len(doc)) if 0 < abs(i - j) <= b[i]
        ]
    assert sorted(zip(centres.tolist(), contexts.tolist(), strict=True)) == sorted(
        (int(a), int(b)) for a, b in expected
    )
    assert not (
        {(c, o) for c, o in zip(centres.tolist(), contexts.tolist(), strict=True)} & {(9, 10), (10, 9)}
    )  # no crossing
    with pytest.raises(ValueError, match="window"):
        skipgram_pairs(ids, window=0, rng=rng)


def test_skipgram_pairs_with_window_one_and_full_keep():
    c, o = skipgram_pairs([np.array([4, 5, 6])], window=1, rng=np.random.default_rng(1), keep=np.ones(7))
    assert sorted(zip(c.tolist(), o.tolist(), strict=True)) == [(4, 5), (5, 4), (5, 6), (6, 5)]
    c, o = skipgram_pairs([], window=2, rng=np.random.default_rng(1))
    assert len(c) == len(o) == 0


def test_skipgram_loss_is_the_formula():
    torch.manual_seed(0)
    model = SkipGramNS(6, 4)
    torch.nn.init.normal_(model.context.weight)
    c, o, neg = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([[4, 5], [5, 0]])
    v, u = model.centre.weight, model.context.weight
    expected = torch.stack(
        [
            -torch.log(torch.sigmoid(u[o[i]] @ v[c[i]]))
            - sum(torch.log(torch.sigmoid(-u[k] @ v[c[i]])) for k in neg[i])
            for i in range(2)
        ]
    )
    torch.testing.assert_close(model(c, o, neg), expected)
    assert model.vectors.shape == (6, 4) and not model.vectors.requires_grad
    fresh = SkipGramNS(6, 4)  # context vectors start at zero: every loss is (k + 1) log 2
    torch.testing.assert_close(fresh(c, o, neg), torch.full((2,), 3 * math.log(2)))
    with pytest.raises(ValueError, match="negatives"):
        model(c, o, neg[:1])
    with pytest.raises(ValueError, match="centres and contexts"):
        model(c, o[:1], neg)
    with pytest.raises(ValueError, match="dim"):
        SkipGramNS(6, 0)


def test_cooccurrence_weights_by_inverse_distance():
    X = cooccurrence([np.array([0, 1, 2]), np.array([2, 0])], vocab_size=3, window=2)
    expected = torch.tensor([[0, 1, 0.5 + 1], [1, 0, 1], [1.5, 1, 0]], dtype=torch.float64)
    torch.testing.assert_close(X, expected)
    with pytest.raises(ValueError, match="outside"):
        cooccurrence([np.array([0, 3])], vocab_size=3, window=1)


def test_category_auc_perfect_chance_and_errors():
    index = {w: i for i, w in enumerate("abcd")}
    separated = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert category_auc(separated, index, [["a", "b"], ["c", "d"]]) == 1.0
    assert category_auc(torch.ones(4, 2), index, [["a", "b"], ["c", "d"]]) == 0.5  # all ties
    with pytest.raises(ValueError, match="missing"):
        category_auc(separated, index, [["a", "z"], ["c", "d"]])
    with pytest.raises(ValueError, match="at least two"):
        category_auc(separated, index, [["a", "b", "c", "d"]])


def test_wordsim_spearman_counts_covered_pairs():
    index = {"a": 0, "b": 1, "c": 2, "d": 3}
    E = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.0, 1.0]])
    pairs = [("a", "b", 9.0), ("a", "c", 5.0), ("a", "d", 1.0), ("a", "zz", 3.0)]
    assert wordsim_spearman(E, index, pairs) == (pytest.approx(1.0), 3)
    with pytest.raises(ValueError, match="only 1 of 2"):
        wordsim_spearman(E, index, [("a", "b", 1.0), ("a", "zz", 2.0)])


def test_analogy_3cosadd_matches_gensim():
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    E = rng.normal(size=(50, 8)).astype(np.float32)
    kv = KeyedVectors(8)
    kv.add_vectors(words, E)
    index = {w: i for i, w in enumerate(words)}
    for a, b, c in [("w1", "w2", "w3"), ("w7", "w0", "w9")]:
        ours = analogy_3cosadd(torch.from_numpy(E), index, a, b, c, topn=3)
        assert ours == [w for w, _ in kv.most_similar(positive=[b, c], negative=[a], topn=3)]
    with pytest.raises(ValueError, match="missing"):
        analogy_3cosadd(E, index, "w1", "w2", "nope")
    with pytest.raises(ValueError, match="rows"):
        analogy_3cosadd(E[:10], index, "w1", "w2", "w3")
    with pytest.raises(ValueError, match="topn"):
        analogy_3cosadd(E, index, "w1", "w2", "w3", topn=0)
