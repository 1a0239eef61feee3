"""Metrics on torch tensors: classification accuracy, confusion matrix, regression errors.

Every metric takes ``(outputs, targets)`` in that order, the signature `lessons.train.fit` expects in its
``metrics={"acc": accuracy}`` argument, and returns a Python float averaged over the batch (so ``fit`` can
weight each batch by its size and get the exact average over the data set).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from lessons.checks import check_choice, check_int, check_tensor

__all__ = ["accuracy", "confusion_matrix", "mae", "mse", "to_labels"]


def to_labels(
    outputs: torch.Tensor, targets: torch.Tensor | None = None, *, name: str = "outputs"
) -> torch.Tensor:
    """Turn class scores into predicted labels; pass labels through unchanged.

    Args:
        outputs: logits or probabilities of shape ``(N, C, *)`` (the class axis is 1, as for
            `torch.nn.CrossEntropyLoss`), or integer labels of shape ``(N, *)``.
        targets: optional integer labels ``(N, *)``; when given, the result's shape is checked against them.
        name: the argument name used in error messages.

    Returns:
        int64 labels of shape ``(N, *)``.

    Raises:
        TypeError: `outputs` is not a tensor.
        ValueError: `outputs` holds floats of the same shape as `targets` (ambiguous: binary logits must be
            thresholded first, e.g. ``(logits > 0).long()``), or the shapes do not match.
    """
    outputs = check_tensor(name, outputs)
    if targets is not None and outputs.ndim == targets.ndim + 1:
        labels = outputs.argmax(dim=1)
    elif targets is None and outputs.is_floating_point():
        if outputs.ndim < 2:
            raise ValueError(
                f"{name} of floats must have a class axis (N, C, ...), got shape {tuple(outputs.shape)}"
            )
        labels = outputs.argmax(dim=1)
    else:
        if outputs.is_floating_point():
            raise ValueError(
                f"{name} has the same shape as targets {tuple(outputs.shape)} but holds floats: pass class "
                "scores of shape (N, C) or integer labels; for binary logits use (logits > 0).long()"
            )
        labels = outputs.long()
    if targets is not None and labels.shape != targets.shape:
        raise ValueError(
            f"{name} of shape {tuple(outputs.shape)} does not match targets of shape {tuple(targets.shape)}: "
            "expected (N, C, *) scores or (N, *) labels"
        )
    return labels


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions.

    Args:
        outputs: class scores ``(N, C, *)`` (the argmax over axis 1 is the prediction) or integer
            labels ``(N, *)``.
        targets: integer labels ``(N, *)``.

    Returns:
        A float in [0, 1].

    Raises:
        TypeError: an argument is not a tensor, or `targets` is not integer.
        ValueError: shapes do not match, or the batch is empty.

    Examples:
        >>> import torch
        >>> scores = torch.tensor([[2.0, 0.1], [0.3, 0.9], [0.8, 0.1], [0.2, 0.7]])
        >>> accuracy(scores, torch.tensor([0, 1, 1, 1]))  # the third is wrong
        0.75
    """
    targets = check_tensor("targets", targets)
    if targets.is_floating_point():
        raise TypeError(f"targets must hold integer class labels, got dtype {targets.dtype}")
    labels = to_labels(outputs, targets)
    if targets.numel() == 0:
        raise ValueError("targets is empty: accuracy of zero examples is undefined")
    return (labels == targets).float().mean().item()


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Count how often class ``i`` (row, the truth) was predicted as class ``j`` (column).

    Same convention as scikit-learn: ``cm[i, j]`` = number of examples with target ``i`` and prediction ``j``;
    the diagonal holds the correct ones, ``cm.sum()`` is the number of examples.

    Args:
        preds: predicted labels ``(N, *)`` or class scores ``(N, C, *)``.
        targets: integer labels ``(N, *)`` in ``[0, num_classes)``.
        num_classes: the number of classes ``C``.

    Returns:
        An int64 tensor of shape ``(num_classes, num_classes)`` on the CPU.

    Raises:
        TypeError: `num_classes` is not an int or an input is not a tensor.
        ValueError: `num_classes` < 1, shapes do not match, or a label lies outside ``[0, num_classes)``.

    Examples:
        >>> import torch
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), num_classes=2)
        tensor([[1, 1],
                [0, 1]])
    """
    check_int("num_classes", num_classes, ge=1)
    targets = check_tensor("targets", targets)
    if targets.is_floating_point():
        raise TypeError(f"targets must hold integer class labels, got dtype {targets.dtype}")
    labels = to_labels(preds, targets, name="preds").reshape(-1).cpu()
    truth = targets.reshape(-1).cpu().long()
    for name, t in (("preds", labels), ("targets", truth)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} holds labels outside [0, {num_classes}): min {t.min()}, max {t.max()}")
    flat = truth * num_classes + labels
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def _regression_pair(outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    outputs, targets = check_tensor("outputs", outputs), check_tensor("targets", targets)
    if outputs.shape != targets.shape:
        if outputs.numel() == targets.numel() and outputs.squeeze().shape == targets.squeeze().shape:
            outputs = outputs.reshape(targets.shape)  # (N, 1) predictions against (N,) targets
        else:
            raise ValueError(
                f"outputs of shape {tuple(outputs.shape)} does not match targets of shape "
                f"{tuple(targets.shape)}"
            )
    if targets.numel() == 0:
        raise ValueError("targets is empty")
    return outputs.float(), targets.float()


def mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean absolute error ``mean(|outputs - targets|)``; ``(N, 1)`` outputs may meet ``(N,)`` targets.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: the shapes differ (beyond a trailing axis of size 1) or the batch is empty.
    """
    outputs, targets = _regression_pair(outputs, targets)
    return (outputs - targets).abs().mean().item()


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean squared error ``mean((outputs - targets)**2)``; ``(N, 1)`` outputs may meet ``(N,)`` targets.

    Averaged over batches weighted by their size (as `lessons.train.fit` does) this is the exact MSE over
    the data set, so the RMSE is simply ``math.sqrt`` of it.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: the shapes differ (beyond a trailing axis of size 1) or the batch is empty.
    """
    outputs, targets = _regression_pair(outputs, targets)
    return ((outputs - targets) ** 2).mean().item()


# --- BLEU (phase 6: seq2seq; phase 7: translation) ---------------------------------------------------------

__all__ += ["BLEUScore", "corpus_bleu"]


@dataclass(frozen=True)
class BLEUScore:
    """Corpus BLEU and its parts, named like the fields of ``sacrebleu``'s result.

    Attributes:
        score: BLEU on sacrebleu's scale, 0 to 100.
        precisions: clipped n-gram precisions for n = 1 .. max_n, in percent (smoothed where zero).
        bp: the brevity penalty, in (0, 1].
        sys_len: number of hypothesis tokens.
        ref_len: number of reference tokens (per sentence, the reference closest in length).
    """

    score: float
    precisions: tuple[float, ...]
    bp: float
    sys_len: int
    ref_len: int


def _ngrams(tokens: Sequence[str], max_n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for n in range(1, max_n + 1) for i in range(len(tokens) - n + 1))


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    tokenize: Callable[[str], Sequence[str]] = str.split,
    max_n: int = 4,
    smooth: Literal["exp", "none"] = "exp",
) -> BLEUScore:
    r"""Corpus-level BLEU (Papineni et al. 2002), computed as ``sacrebleu.corpus_bleu`` does (Post 2018).

    Counts are pooled over the whole corpus before anything is divided:

    * clipped precision $p_n = \sum_{\text{sent}} \sum_g \min(c_{\text{hyp}}(g), \max_r c_r(g)) \,/\,
      \sum_{\text{sent}} \sum_g c_{\text{hyp}}(g)$ over the n-grams $g$ of order $n$;
    * brevity penalty $\mathrm{BP} = \min(1, e^{1 - r/c})$, with $c$ the hypothesis length and $r$ the
      reference length (per sentence the reference closest in length, the shorter one on a tie);
    * $\mathrm{BLEU} = 100 \cdot \mathrm{BP} \cdot \exp\left(\frac{1}{N} \sum_{n=1}^{N} \log p_n\right)$.

    With ``smooth="exp"`` (sacrebleu's default) the k-th order with no match at all gets precision
    $1 / (2^k \cdot \text{total}_n)$ instead of 0; with ``"none"`` any zero precision gives BLEU 0.

    Args:
        hypotheses: one system output per sentence, ``(n_sentences,)`` strings.
        references: reference *streams*, as for sacrebleu: ``references[k][i]`` is the k-th reference of
            sentence ``i``. With one reference per sentence pass ``[refs]``.
        tokenize: turns a string into tokens. ``str.split`` matches sacrebleu's ``tokenize="none"``, ``list``
            its ``"char"`` on text without spaces; for Chinese pass e.g.
            ``lambda s: sacrebleu.tokenizers.tokenizer_zh.TokenizerZh()(s).split()`` to match ``"zh"``.
        max_n: the largest n-gram order N.
        smooth: ``"exp"`` or ``"none"``.

    Returns:
        A `BLEUScore`.

    Raises:
        TypeError: `hypotheses` or a reference stream is a single string or holds a non-string, or
            `references` is a flat list of strings (wrap it: ``[refs]``), or `max_n` is not an int.
        ValueError: no reference stream, a stream's length differs from `hypotheses`, `max_n` < 1, or an
            unknown `smooth`.

    Examples:
        >>> round(corpus_bleu(["the cat sat on the mat"], [["the cat sat on a mat"]]).score, 2)
        53.73
    """
    if isinstance(hypotheses, str) or not all(isinstance(h, str) for h in hypotheses):
        raise TypeError("hypotheses must be a sequence of strings, one per sentence")
    if isinstance(references, str) or any(isinstance(stream, str) for stream in references):
        raise TypeError(
            "references must be a sequence of reference streams (each a sequence of strings, one per "
            "sentence); with one reference per sentence pass [refs]"
        )
    if len(references) == 0:
        raise ValueError("references must hold at least one reference stream")
    for k, stream in enumerate(references):
        if not all(isinstance(r, str) for r in stream):
            raise TypeError(f"references[{k}] must hold strings")
        if len(stream) != len(hypotheses):
            raise ValueError(
                f"references[{k}] has {len(stream)} sentences but hypotheses has {len(hypotheses)}"
            )
    max_n = check_int("max_n", max_n, ge=1)
    check_choice("smooth", smooth, ("exp", "none"))

    correct, total = [0] * max_n, [0] * max_n
    sys_len = ref_len = 0
    for i, hyp in enumerate(hypotheses):
        hyp_tokens = list(tokenize(hyp))
        ref_tokens = [list(tokenize(stream[i])) for stream in references]
        hyp_counts = _ngrams(hyp_tokens, max_n)
        best_ref: Counter[tuple[str, ...]] = Counter()
        for ref in ref_tokens:
            best_ref |= _ngrams(ref, max_n)  # | keeps the larger count: the clip of each n-gram
        for gram, count in hyp_counts.items():
            total[len(gram) - 1] += count
            correct[len(gram) - 1] += min(count, best_ref[gram])
        sys_len += len(hyp_tokens)
        ref_len += min((abs(len(r) - len(hyp_tokens)), len(r)) for r in ref_tokens)[1]

    bp = 0.0 if sys_len == 0 else min(1.0, math.exp(1 - ref_len / sys_len))
    precisions = [0.0] * max_n
    if any(correct):
        halvings = 0
        for n in range(max_n):
            if total[n] == 0:  # no n-gram of this order at all: precision stays 0
                break
            if correct[n] == 0 and smooth == "exp":
                halvings += 1
                precisions[n] = 100.0 / (2**halvings * total[n])
            else:
                precisions[n] = 100.0 * correct[n] / total[n]
    if min(precisions) == 0.0:
        return BLEUScore(0.0, tuple(precisions), bp, sys_len, ref_len)
    log_mean = sum(math.log(p / 100.0) for p in precisions) / max_n
    return BLEUScore(100.0 * bp * math.exp(log_mean), tuple(precisions), bp, sys_len, ref_len)


# --- Fréchet distance (phase 8: generative models) ---------------------------------------------------------

__all__ += ["digit_class_agreement", "digit_features", "digit_frechet_distance", "frechet_distance"]


def _feature_matrix(name: str, feats: torch.Tensor) -> torch.Tensor:
    feats = check_tensor(name, feats)
    if feats.ndim != 2:
        raise ValueError(f"{name} must be a (N, D) matrix of features, got shape {tuple(feats.shape)}")
    if feats.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows to estimate a covariance, got {feats.shape[0]}")
    if not feats.is_floating_point():
        raise TypeError(f"{name} must hold floats, got dtype {feats.dtype}")
    return feats.detach().cpu().double()


def _psd_sqrt(m: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix, through its eigenvectors."""
    values, vectors = torch.linalg.eigh(m)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    r"""Fréchet distance between Gaussians fitted to two sets of features (the "F" of FID).

    Each set is summarised by its mean $\mu$ and covariance $\Sigma$ (unbiased, ``N - 1``), and

    $$d^2 = \lVert \mu_a - \mu_b \rVert^2 + \operatorname{tr}\left(\Sigma_a + \Sigma_b
    - 2\,(\Sigma_a \Sigma_b)^{1/2}\right),$$

    the squared 2-Wasserstein distance between $\mathcal N(\mu_a, \Sigma_a)$ and $\mathcal N(\mu_b,
    \Sigma_b)$ (Dowson & Landau 1982), which Heusel et al. (2017) compute on Inception-v3 features and call
    FID. The trace of $(\Sigma_a \Sigma_b)^{1/2}$ is taken as the sum of the square roots of the eigenvalues
    of the symmetric $\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2}$ (the same eigenvalues), in float64, so no
    complex square root appears. Like FID it is the *squared* distance, and it is biased upwards for a
    finite number of samples: compare only values computed with the same N.

    Args:
        feats_a: ``(N_a, D)`` float features of one set (e.g. real images).
        feats_b: ``(N_b, D)`` float features of the other (e.g. generated images); the same D.

    Returns:
        $d^2 \ge 0$ as a float (0 for identical sets).

    Raises:
        TypeError: an argument is not a float tensor.
        ValueError: not a ``(N, D)`` matrix, fewer than 2 rows, or the two D differ.

    Examples:
        >>> import torch
        >>> a = torch.randn(500, 3, generator=torch.Generator().manual_seed(0))
        >>> frechet_distance(a, a)
        0.0
        >>> round(frechet_distance(a, a + 2.0), 6)  # a shift moves only the means: |(2, 2, 2)|^2
        12.0
    """
    a, b = _feature_matrix("feats_a", feats_a), _feature_matrix("feats_b", feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feats_a has {a.shape[1]} features per row but feats_b has {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    root_a = _psd_sqrt(cov_a)
    inner = root_a @ cov_b @ root_a
    trace_sqrt = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()
    d2 = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt
    return max(d2.item(), 0.0)  # rounding can leave -1e-16 for identical sets


def _digit_images(images: torch.Tensor) -> torch.Tensor:
    images = check_tensor("images", images)
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28) or not images.is_floating_point():
        raise ValueError(
            f"images must be float digits of shape (N, 1, 28, 28) in [0, 1], got {tuple(images.shape)} "
            f"{images.dtype}"
        )
    return images.detach().cpu().float()


def digit_features(images: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Features of the course's trained digit CNN, for `frechet_distance` on 28×28 digits.

    The model is `lessons.recipes.trained_digit_cnn` with its defaults (a ``SmallCNN((16, 32))`` trained on
    3,500 MNIST digits, about 97% test accuracy; trained once per process, a few seconds). The feature of an
    image is the output of its convolutional blocks averaged over the 7×7 positions: 32 numbers, as FID
    averages Inception-v3's last convolutional maps into 2,048 numbers.

    Args:
        images: ``(N, 1, 28, 28)`` float images in [0, 1] (generated samples: clamp them first).
        batch_size: images per forward pass.

    Returns:
        ``(N, 32)`` float32 features.

    Raises:
        TypeError: `images` is not a tensor, or `batch_size` is not an int.
        ValueError: `images` is not a float ``(N, 1, 28, 28)`` batch, or `batch_size` < 1.
    """
    from lessons.recipes import trained_digit_cnn  # lazy: lessons.recipes imports this module

    images = _digit_images(images)
    check_int("batch_size", batch_size, ge=1)
    cnn = trained_digit_cnn()
    with torch.no_grad():
        parts = [
            cnn.model.features((chunk - cnn.mean) / cnn.std).mean(dim=(2, 3))
            for chunk in images.split(batch_size)
        ]
    return torch.cat(parts) if parts else torch.zeros(0, 32)


def digit_frechet_distance(images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """`frechet_distance` between the `digit_features` of two batches of 28×28 digits.

    Args:
        images_a: ``(N_a, 1, 28, 28)`` float images in [0, 1], e.g. held-out real digits.
        images_b: ``(N_b, 1, 28, 28)`` float images in [0, 1], e.g. samples of a generative model.

    Returns:
        The squared Fréchet distance (0 for identical batches; compare values at equal N only).

    Raises:
        TypeError, ValueError: see `digit_features` and `frechet_distance`.
    """
    return frechet_distance(digit_features(images_a), digit_features(images_b))


def digit_class_agreement(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images that the trained digit CNN classifies as the label they were generated for.

    For a class-conditional generator: sample ``images`` asking for ``labels``, then measure how often
    the classifier of `digit_features` (about 97% accurate on real test digits) agrees.

    Args:
        images: ``(N, 1, 28, 28)`` float images in [0, 1].
        labels: ``(N,)`` int64 requested classes in 0..9.

    Returns:
        A float in [0, 1].

    Raises:
        TypeError: an argument is not a tensor, or `labels` is not integer.
        ValueError: `images` has the wrong shape, or `labels` does not match it.
    """
    from lessons.recipes import trained_digit_cnn  # lazy: lessons.recipes imports this module

    images = _digit_images(images)
    labels = check_tensor("labels", labels)
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    cnn = trained_digit_cnn()
    with torch.no_grad():
        logits = torch.cat([cnn.model((chunk - cnn.mean) / cnn.std) for chunk in images.split(1000)])
    return accuracy(logits, labels.cpu())
