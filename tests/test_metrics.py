"""lessons.metrics: accuracy, confusion_matrix, mae, mse, corpus_bleu, including bad input."""

import math

import numpy as np
import pytest
import sacrebleu
import torch
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from lessons.metrics import accuracy, confusion_matrix, corpus_bleu, mae, mse, to_labels


def test_accuracy_from_logits_and_from_labels():
    logits = torch.tensor([[2.0, 0.1, 0.0], [0.3, 0.9, 0.0], [0.8, 0.1, 0.0], [0.0, 0.0, 5.0]])
    targets = torch.tensor([0, 1, 1, 2])
    assert accuracy(logits, targets) == pytest.approx(0.75)
    assert accuracy(logits.argmax(1), targets) == pytest.approx(0.75)


def test_accuracy_with_class_axis_1_for_dense_outputs():
    logits = torch.randn(4, 3, 5, 5)  # (N, C, H, W), as for segmentation
    targets = logits.argmax(1)
    assert accuracy(logits, targets) == 1.0


def test_accuracy_rejects_bad_input():
    with pytest.raises(TypeError, match="targets"):
        accuracy(torch.zeros(3, 2), [0, 1, 1])
    with pytest.raises(TypeError, match="targets"):
        accuracy(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="outputs"):
        accuracy(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="binary logits"):
        accuracy(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="outputs"):
        accuracy(np.zeros((3, 2)), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))


def test_to_labels_without_targets():
    assert torch.equal(to_labels(torch.tensor([[0.0, 1.0], [3.0, 1.0]])), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="class axis"):
        to_labels(torch.tensor([0.2, 0.7]))


def test_confusion_matrix_matches_sklearn():
    g = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 4, (200,), generator=g)
    targets = torch.randint(0, 4, (200,), generator=g)
    cm = confusion_matrix(preds, targets, num_classes=4)
    assert cm.dtype == torch.int64 and cm.shape == (4, 4)
    np.testing.assert_array_equal(cm.numpy(), sk_confusion_matrix(targets, preds, labels=range(4)))
    assert cm.sum() == 200 and cm.trace() == (preds == targets).sum()


def test_confusion_matrix_takes_logits():
    logits = torch.tensor([[3.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    cm = confusion_matrix(logits, torch.tensor([0, 1, 1]), 2)
    assert cm.tolist() == [[1, 0], [1, 1]]


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(TypeError, match="num_classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), 2.0)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), 0)
    with pytest.raises(ValueError, match="targets holds labels outside"):
        confusion_matrix(torch.tensor([0]), torch.tensor([3]), 2)
    with pytest.raises(ValueError, match="preds holds labels outside"):
        confusion_matrix(torch.tensor([-1]), torch.tensor([0]), 2)
    with pytest.raises(ValueError, match="preds"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]), 2)


def test_regression_metrics():
    out = torch.tensor([[1.0], [2.0], [4.0]])  # (N, 1) predictions against (N,) targets is allowed
    y = torch.tensor([1.0, 3.0, 2.0])
    assert mae(out, y) == pytest.approx(1.0)
    assert mse(out, y) == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="outputs of shape"):
        mse(torch.zeros(3, 2), y)
    with pytest.raises(TypeError, match="targets"):
        mae(out, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="empty"):
        mse(torch.zeros(0), torch.zeros(0))


# --- corpus_bleu against sacrebleu ------------------------------------------------------------------------


def _random_corpus(seed: int, n: int, vocab: str = "abcdef") -> tuple[list[str], list[str], list[str]]:
    rng = np.random.default_rng(seed)

    def sentence() -> str:
        return " ".join(rng.choice(list(vocab), size=int(rng.integers(1, 12))))

    return [sentence() for _ in range(n)], [sentence() for _ in range(n)], [sentence() for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("smooth", ["exp", "none"])
def test_corpus_bleu_equals_sacrebleu(seed: int, smooth: str) -> None:
    hyps, refs1, refs2 = _random_corpus(seed, 30, vocab="abc")
    for streams in ([refs1], [refs1, refs2]):
        mine = corpus_bleu(hyps, streams, smooth=smooth)
        ref = sacrebleu.corpus_bleu(hyps, streams, tokenize="none", smooth_method=smooth)
        assert mine.score == pytest.approx(ref.score, abs=1e-9)
        assert mine.precisions == pytest.approx(ref.precisions, abs=1e-9)
        assert mine.bp == pytest.approx(ref.bp) and (mine.sys_len, mine.ref_len) == (ref.sys_len, ref.ref_len)


def test_corpus_bleu_characters_chinese_and_edge_cases() -> None:
    hyps, refs = ["2026-11-25", "1999-12-31", "2000-01-01"], ["2026-11-25", "1999-12-13", "2000-10-01"]
    assert corpus_bleu(hyps, [refs], tokenize=list).score == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="char").score
    )
    zh = TokenizerZh()
    hyps = ["打印补丁到标准输出", "显示提交的日志", "git 无法读取文件"]
    refs = ["打印补丁到标准输出", "显示提交日志", "无法读取文件 foo"]
    assert corpus_bleu(hyps, [refs], tokenize=lambda s: zh(s).split()).score == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score
    )
    assert corpus_bleu(["a b c d"], [["a b c d"]]).score == pytest.approx(100.0)
    assert corpus_bleu(["x y"], [["a b c"]]).score == 0.0  # nothing matches
    short = corpus_bleu(["a b"], [["a b c d"]])
    assert short.bp == pytest.approx(math.exp(1 - 4 / 2)) and short.score == 0.0  # no 3-grams at all
    assert corpus_bleu([""], [["a b"]]).bp == 0.0
    assert corpus_bleu(["a b"], [["a b c d"]], max_n=2).score == pytest.approx(100 * math.exp(-1))


def test_corpus_bleu_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match=r"wrap it|\[refs\]"):
        corpus_bleu(["a b"], ["a b"])
    with pytest.raises(TypeError, match="hypotheses"):
        corpus_bleu("a b", [["a b"]])
    with pytest.raises(TypeError, match=r"references\[0\]"):
        corpus_bleu(["a b"], [[1]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"references\[1\] has 2 sentences"):
        corpus_bleu(["a b"], [["a b"], ["a", "b"]])
    with pytest.raises(ValueError, match="at least one"):
        corpus_bleu(["a b"], [])
    with pytest.raises(TypeError, match="max_n"):
        corpus_bleu(["a b"], [["a b"]], max_n=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_n"):
        corpus_bleu(["a b"], [["a b"]], max_n=0)
    with pytest.raises(ValueError, match="smooth"):
        corpus_bleu(["a b"], [["a b"]], smooth="add-k")  # type: ignore[arg-type]
