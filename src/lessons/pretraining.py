r"""Pre-training basics (section 12.4): a data pipeline, a small LLaMA trained from scratch, scaling laws.

- `word_shingles`, `jaccard`: a document as the set of its word $k$-grams, and the overlap of two sets.
- `minhash_permutations`, `minhash_signature`: MinHash (Broder 1997) with the hash and the affine
  permutations of ``datasketch.MinHash`` (its default ``affine32`` scheme), so that the same seed gives
  identical signatures.
- `lsh_candidate_pairs`: locality-sensitive hashing by bands, the candidate pairs ``datasketch.MinHashLSH``
  returns for the same ``(bands, rows)``.
- `pack_documents`, `document_causal_mask`: documents packed into fixed-length rows with an EOS after each,
  and the block-diagonal causal mask that keeps attention inside each document.
- `train_char_llama`: pre-train a `lessons.models.llama.Llama` on a stream of token ids, report the
  validation loss; `non_embedding_params`, `training_flops` ($6ND$), `fit_power_law` and
  `chinchilla_optimal` for the scaling-law experiment.
- `greedy_answer_matches`: whether greedy decoding after each prompt produces its answer, scored in one
  teacher-forced forward pass (few-shot in-context learning).

Examples:
    >>> sorted(word_shingles("to be or not to be", k=2))
    ['be or', 'not to', 'or not', 'to be']
    >>> c, e = fit_power_law([1.0, 10.0, 100.0], [3.0, 0.3, 0.03])
    >>> round(c, 6), round(e, 6)
    (3.0, -1.0)
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lessons.checks import check_float, check_int, check_tensor
from lessons.models import count_parameters
from lessons.models.llama import Llama, LlamaConfig

__all__ = [
    "CharLMRun",
    "chinchilla_optimal",
    "document_causal_mask",
    "fit_power_law",
    "greedy_answer_matches",
    "jaccard",
    "lsh_candidate_pairs",
    "minhash_permutations",
    "minhash_signature",
    "non_embedding_params",
    "pack_documents",
    "train_char_llama",
    "training_flops",
    "word_shingles",
]

_MASK32 = np.uint64(0xFFFFFFFF)


def word_shingles(text: str, k: int = 5) -> set[str]:
    """The set of word `k`-grams of `text`, lower-cased and joined by single spaces.

    A text of fewer than `k` words gives one shingle, the whole (normalised) text, so that no document
    has an empty set.

    Args:
        text: the document.
        k: words per shingle, at least 1.

    Returns:
        The set of shingles.

    Raises:
        TypeError: `text` is not a `str`.
        ValueError: `k` < 1.

    Examples:
        >>> sorted(word_shingles("A b  c", k=5))
        ['a b c']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    k = check_int("k", k, ge=1)
    words = text.lower().split()
    if len(words) < k:
        return {" ".join(words)}
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def jaccard(a: set[Any], b: set[Any]) -> float:
    r"""Jaccard similarity $|A \cap B| / |A \cup B|$ of two sets (1.0 for two empty sets).

    Examples:
        >>> jaccard({1, 2, 3}, {2, 3, 4})
        0.5
    """
    if not isinstance(a, set) or not isinstance(b, set):
        raise TypeError(f"a and b must be sets, got {type(a).__name__} and {type(b).__name__}")
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def minhash_permutations(num_perm: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    r"""The parameters $(a_k, b_k)$ of `num_perm` permutations $h \mapsto a_k h + b_k \bmod 2^{32}$.

    Drawn as ``datasketch.MinHash(num_perm, seed)`` draws them for its default scheme: a
    ``numpy.random.RandomState(seed)``, odd multipliers $a_k$ (which make each map a bijection of the
    32-bit integers), then offsets $b_k$.

    Args:
        num_perm: number of permutations, at least 1.
        seed: seed of the random state, at least 0.

    Returns:
        ``(a, b)``, two ``uint32`` arrays of shape ``(num_perm,)``.

    Raises:
        ValueError: `num_perm` < 1 or `seed` < 0.
    """
    num_perm = check_int("num_perm", num_perm, ge=1)
    seed = check_int("seed", seed, ge=0)
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (a bijection that mixes the bits), on uint32 arrays."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash_signature(shingles: Iterable[str], num_perm: int = 128, seed: int = 1) -> np.ndarray:
    r"""The MinHash signature of a set of strings: for each permutation $k$, $\min_{x} \pi_k(x)$.

    Each string is hashed to 32 bits (the first four bytes of its SHA-1, little-endian, as
    ``datasketch.hashfunc.sha1_hash32``), mixed by MurmurHash3's finaliser, then sent through the
    permutations of `minhash_permutations`. Two sets agree on entry $k$ with probability equal to their
    Jaccard similarity. Equal to ``datasketch.MinHash(num_perm, seed).update_batch(...)``'s ``hashvalues``.

    Args:
        shingles: the set's elements (strings, encoded as UTF-8).
        num_perm: length of the signature.
        seed: seed of the permutations.

    Returns:
        ``(num_perm,)`` ``uint32`` array (all ``2**32 - 1`` for an empty set).

    Raises:
        TypeError: an element is not a `str`.
        ValueError: `num_perm` < 1 or `seed` < 0.
    """
    a, b = minhash_permutations(num_perm, seed)
    values = []
    for s in shingles:
        if not isinstance(s, str):
            raise TypeError(f"shingles must hold str, got {type(s).__name__}")
        values.append(struct.unpack("<I", hashlib.sha1(s.encode("utf-8")).digest()[:4])[0])
    if not values:
        return np.full(num_perm, 0xFFFFFFFF, dtype=np.uint32)
    h = _fmix32(np.array(values, dtype=np.uint32))
    return (h[:, None] * a[None, :] + b[None, :]).min(axis=0)  # uint32 arithmetic wraps: mod 2^32


def lsh_candidate_pairs(signatures: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    r"""Pairs of documents whose signatures agree on all `rows` entries of at least one of `bands` bands.

    Band $j$ is the slice ``[j * rows, (j + 1) * rows)`` of each signature, as in ``datasketch.MinHashLSH``.
    Two sets of Jaccard similarity $s$ become a candidate pair with probability $1 - (1 - s^r)^b$.

    Args:
        signatures: ``(n_docs, num_perm)`` integer array, one MinHash signature per row.
        bands: number of bands $b$, at least 1.
        rows: entries per band $r$, at least 1; ``bands * rows`` must not exceed ``num_perm``.

    Returns:
        The set of candidate pairs ``(i, j)`` with ``i < j`` (row indices).

    Raises:
        ValueError: `signatures` is not 2-D, or `bands` / `rows` are out of range.
    """
    sig = np.asarray(signatures)
    if sig.ndim != 2:
        raise ValueError(f"signatures must be a 2-D array (n_docs, num_perm), got shape {sig.shape}")
    bands = check_int("bands", bands, ge=1)
    rows = check_int("rows", rows, ge=1)
    if bands * rows > sig.shape[1]:
        raise ValueError(f"bands * rows must be at most num_perm={sig.shape[1]}, got {bands} * {rows}")
    pairs: set[tuple[int, int]] = set()
    for j in range(bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for i, row in enumerate(sig[:, j * rows : (j + 1) * rows]):
            buckets[row.tobytes()].append(i)
        for members in buckets.values():
            pairs.update((p, q) for n, p in enumerate(members) for q in members[n + 1 :])
    return pairs


def pack_documents(
    docs: Sequence[Sequence[int]], seq_len: int, eos_id: int, pad_id: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate token-id documents, each followed by `eos_id`, and cut the stream into rows of `seq_len`.

    A document may run across the end of a row into the next one; only the last row is padded.

    Args:
        docs: the documents, each a sequence of token ids.
        seq_len: tokens per row, at least 1.
        eos_id: the id appended after each document (it belongs to that document).
        pad_id: the id that fills the end of the last row (`eos_id` when ``None``).

    Returns:
        ``(tokens, doc_ids)``, two ``(n_rows, seq_len)`` long tensors: the ids, and the index in `docs` of
        the document each position belongs to (``-1`` for padding).

    Raises:
        ValueError: `docs` is empty or `seq_len` < 1.

    Examples:
        >>> tokens, doc_ids = pack_documents([[5, 6], [7]], seq_len=3, eos_id=0)
        >>> tokens.tolist(), doc_ids.tolist()
        ([[5, 6, 0], [7, 0, 0]], [[0, 0, 0], [1, 1, -1]])
    """
    seq_len = check_int("seq_len", seq_len, ge=1)
    if len(docs) == 0:
        raise ValueError("docs must hold at least one document")
    pad = eos_id if pad_id is None else pad_id
    stream: list[int] = []
    owner: list[int] = []
    for i, doc in enumerate(docs):
        stream.extend(int(t) for t in doc)
        stream.append(eos_id)
        owner.extend([i] * (len(doc) + 1))
    n_rows = math.ceil(len(stream) / seq_len)
    fill = n_rows * seq_len - len(stream)
    tokens = torch.tensor(stream + [pad] * fill, dtype=torch.long).view(n_rows, seq_len)
    doc_ids = torch.tensor(owner + [-1] * fill, dtype=torch.long).view(n_rows, seq_len)
    return tokens, doc_ids


def document_causal_mask(doc_ids: torch.Tensor) -> torch.Tensor:
    """Block-diagonal causal mask: ``i`` may attend to ``j`` iff ``j <= i`` and both are in one document.

    Padding (``doc_id == -1``) attends only to itself, so that no row of the mask is empty.

    Args:
        doc_ids: ``(..., seq_len)`` integer tensor from `pack_documents`.

    Returns:
        ``(..., seq_len, seq_len)`` bool tensor, ``True`` where attention is allowed (the convention of
        ``F.scaled_dot_product_attention``'s ``attn_mask``).

    Raises:
        TypeError: `doc_ids` is not a tensor.
        ValueError: `doc_ids` has no sequence axis.

    Examples:
        >>> document_causal_mask(torch.tensor([0, 0, 1])).int().tolist()
        [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    """
    check_tensor("doc_ids", doc_ids)
    if doc_ids.dim() < 1:
        raise ValueError("doc_ids must have a sequence axis, got a scalar")
    t = doc_ids.shape[-1]
    causal = torch.ones(t, t, dtype=torch.bool, device=doc_ids.device).tril()
    same = doc_ids[..., :, None] == doc_ids[..., None, :]
    pad = doc_ids == -1
    own = torch.eye(t, dtype=torch.bool, device=doc_ids.device)
    return (same & causal & ~pad[..., None, :]) | (pad[..., :, None] & own)


def non_embedding_params(model: Llama) -> int:
    """Parameters of `model` other than its token embedding and output layer (Kaplan et al.'s $N$).

    Raises:
        ValueError: `model` is not a `lessons.models.llama.Llama`.
    """
    if not isinstance(model, Llama):
        raise ValueError(f"model must be a lessons.models.llama.Llama, got {type(model).__name__}")
    total = count_parameters(model)
    embedding = model.embed_tokens.weight.numel()
    if model.lm_head.weight is not model.embed_tokens.weight:
        embedding += model.lm_head.weight.numel()
    return total - embedding


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute $C \\approx 6ND$: 2 FLOPs per parameter per token forward, 4 backward.

    Raises:
        ValueError: a count is not positive.

    Examples:
        >>> f"{training_flops(175e9, 300e9):.3g}"
        '3.15e+23'
    """
    n = check_float("n_params", n_params, gt=0)
    d = check_float("n_tokens", n_tokens, gt=0)
    return 6.0 * n * d


def chinchilla_optimal(compute: float, tokens_per_param: float = 20.0) -> tuple[float, float]:
    r"""Model size and tokens that spend `compute` with $D = kN$ (Hoffmann et al. 2022: $k \approx 20$).

    From $C = 6ND$ and $D = kN$: $N = \sqrt{C / 6k}$, $D = kN$.

    Returns:
        ``(n_params, n_tokens)``.

    Raises:
        ValueError: `compute` or `tokens_per_param` is not positive.

    Examples:
        >>> n, d = chinchilla_optimal(6 * 70e9 * 1.4e12)
        >>> round(n / 1e9, 1), round(d / 1e12, 2)
        (70.0, 1.4)
    """
    c = check_float("compute", compute, gt=0)
    k = check_float("tokens_per_param", tokens_per_param, gt=0)
    n = math.sqrt(c / (6.0 * k))
    return n, k * n


def fit_power_law(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[float, float]:
    r"""Least-squares fit of $y = c\,x^{e}$ in log space: a straight line $\log y = \log c + e \log x$.

    Closed form: $e = \mathrm{cov}(\log x, \log y) / \mathrm{var}(\log x)$, $\log c = \overline{\log y} -
    e\,\overline{\log x}$ (the same line as ``numpy.polyfit(log x, log y, 1)``).

    Args:
        x: positive values, at least two distinct.
        y: positive values, as many as `x`.

    Returns:
        ``(c, e)``.

    Raises:
        ValueError: lengths differ, fewer than two points, a value is not positive, or all `x` are equal.
    """
    lx, ly = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if lx.ndim != 1 or lx.shape != ly.shape:
        raise ValueError(f"x and y must be 1-D and of equal length, got shapes {lx.shape} and {ly.shape}")
    if len(lx) < 2:
        raise ValueError(f"x must hold at least two points, got {len(lx)}")
    if (lx <= 0).any() or (ly <= 0).any() or not (np.isfinite(lx).all() and np.isfinite(ly).all()):
        raise ValueError("x and y must be finite and positive for a fit in log space")
    lx, ly = np.log(lx), np.log(ly)
    dx = lx - lx.mean()
    if not (dx != 0).any():
        raise ValueError("x must hold at least two distinct values")
    e = float((dx * (ly - ly.mean())).sum() / (dx * dx).sum())
    return float(math.exp(ly.mean() - e * lx.mean())), e


@dataclass
class CharLMRun:
    """What `train_char_llama` returns.

    Attributes:
        model: the trained model (in eval mode).
        val_loss: mean cross-entropy on the validation ids, in nats per token.
        n_params: all parameters.
        n_non_embedding: parameters other than the embedding and output layer.
        n_tokens: training tokens seen (``steps * batch_size * seq_len``).
        losses: training loss of each step.
    """

    model: Llama
    val_loss: float
    n_params: int
    n_non_embedding: int
    n_tokens: int
    losses: list[float] = field(default_factory=list)


def _val_loss(model: Llama, val_ids: torch.Tensor, seq_len: int) -> float:
    n = (len(val_ids) - 1) // seq_len
    x = val_ids[: n * seq_len].view(n, seq_len)
    y = val_ids[1 : n * seq_len + 1].view(n, seq_len)
    with torch.no_grad():
        logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()


def train_char_llama(
    config: LlamaConfig,
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    seq_len: int = 32,
    lr: float = 1e-2,
    warmup: int = 20,
    seed: int = 0,
) -> CharLMRun:
    """Pre-train a `Llama` from scratch on next-token prediction over one stream of ids.

    Each step draws `batch_size` random windows of ``seq_len + 1`` ids from `train_ids` (inputs and targets
    shifted by one), and takes an AdamW step (betas 0.9/0.95, no weight decay) whose learning rate rises
    linearly for `warmup` steps and then follows a cosine to zero. The validation loss is the mean
    cross-entropy over every non-overlapping window of `val_ids`.

    Args:
        config: the model's sizes; ``config.vocab_size`` must exceed every id.
        train_ids: ``(n_train,)`` long tensor.
        val_ids: ``(n_val,)`` long tensor, at least ``seq_len + 1`` ids.
        steps: optimiser steps, at least 1.
        batch_size: windows per step, at least 1.
        seq_len: tokens per window (context length), at least 1.
        lr: peak learning rate.
        warmup: warm-up steps, at least 0.
        seed: seeds the initial weights and the windows drawn.

    Returns:
        A `CharLMRun`.

    Raises:
        TypeError: an ids argument is not a tensor.
        ValueError: a count is out of range, an id is outside the vocabulary, or a stream is too short.
    """
    if not isinstance(config, LlamaConfig):
        raise ValueError(f"config must be a LlamaConfig, got {type(config).__name__}")
    steps = check_int("steps", steps, ge=1)
    batch_size = check_int("batch_size", batch_size, ge=1)
    seq_len = check_int("seq_len", seq_len, ge=1)
    lr = check_float("lr", lr, gt=0)
    warmup = check_int("warmup", warmup, ge=0)
    seed = check_int("seed", seed, ge=0)
    for name, ids in (("train_ids", train_ids), ("val_ids", val_ids)):
        check_tensor(name, ids)
        if ids.dim() != 1 or ids.dtype != torch.long:
            raise ValueError(f"{name} must be a 1-D long tensor, got {ids.dim()}-D {ids.dtype}")
        if len(ids) < seq_len + 1:
            raise ValueError(f"{name} must hold at least seq_len + 1 = {seq_len + 1} ids, got {len(ids)}")
        if int(ids.min()) < 0 or int(ids.max()) >= config.vocab_size:
            raise ValueError(f"{name} must hold ids in [0, {config.vocab_size}), got {int(ids.max())}")
    torch.manual_seed(seed)
    model = Llama(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0, fused=True)
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.arange(seq_len + 1)
    losses = []
    model.train()
    for step in range(steps):
        scale = min(1.0, (step + 1) / warmup) if warmup else 1.0
        for group in opt.param_groups:
            group["lr"] = lr * scale * 0.5 * (1 + math.cos(math.pi * step / steps))
        starts = torch.randint(0, len(train_ids) - seq_len, (batch_size,), generator=gen)
        window = train_ids[starts[:, None] + offsets]  # (batch, seq_len + 1)
        logits = model(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, config.vocab_size), window[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return CharLMRun(
        model=model,
        val_loss=_val_loss(model, val_ids, seq_len),
        n_params=count_parameters(model),
        n_non_embedding=non_embedding_params(model),
        n_tokens=steps * batch_size * seq_len,
        losses=losses,
    )


def greedy_answer_matches(
    model: Any,
    prefix: Sequence[int],
    questions: Sequence[Sequence[int]],
    answers: Sequence[Sequence[int]],
    *,
    batch_size: int = 64,
) -> torch.Tensor:
    """Whether greedy decoding after ``prefix + question`` would write ``answer`` first, for each question.

    Greedy decoding writes the answer iff, with the answer appended (teacher forcing), the arg-max of the
    logits at every answer position is the next answer token; one forward pass checks it, instead of one
    pass per generated token. The shared `prefix` (the few-shot examples) is run once per batch and its
    key/value cache reused by every row; the rows after it are right-padded, which a causal model never
    attends to.

    Args:
        model: a ``transformers`` causal LM with a ``.model`` body (taking ``input_ids``,
            ``attention_mask``, ``past_key_values``) and an ``.lm_head`` (a ``LlamaForCausalLM``).
        prefix: token ids shared by every prompt (may be empty).
        questions: token ids of each question, non-empty if `prefix` is empty.
        answers: token ids of each answer, non-empty, as many as `questions`.
        batch_size: rows per forward pass.

    Returns:
        ``(len(questions),)`` bool tensor.

    Raises:
        ValueError: the lengths differ, an answer is empty, or a prompt would be empty.
    """
    from transformers import DynamicCache  # imported here: the rest of the module does not need transformers

    batch_size = check_int("batch_size", batch_size, ge=1)
    if len(questions) != len(answers):
        raise ValueError(f"questions and answers must be as many, got {len(questions)} and {len(answers)}")
    if any(len(a) == 0 for a in answers):
        raise ValueError("every answer must hold at least one token")
    if len(prefix) == 0 and any(len(q) == 0 for q in questions):
        raise ValueError("with an empty prefix, every question must hold at least one token")
    prefix_ids = torch.tensor([list(prefix)], dtype=torch.long)
    out: list[bool] = []
    for start in range(0, len(questions), batch_size):
        qs, ans = questions[start : start + batch_size], answers[start : start + batch_size]
        rows = [list(q) + list(a) for q, a in zip(qs, ans, strict=True)]
        n, width = len(rows), max(map(len, rows))
        ids = torch.zeros(n, width, dtype=torch.long)
        mask = torch.zeros(n, len(prefix) + width, dtype=torch.long)
        mask[:, : len(prefix)] = 1
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, len(prefix) : len(prefix) + len(row)] = 1
        with torch.no_grad():
            cache = DynamicCache()
            if len(prefix):
                model.model(input_ids=prefix_ids, cache=cache, use_cache=True)
                cache.batch_repeat_interleave(n)
            body = model.model(input_ids=ids, attention_mask=mask, cache=cache, use_cache=True)
            hidden = body.last_hidden_state
            for i, (q, a) in enumerate(zip(qs, ans, strict=True)):
                # the logits that predict answer token k sit one position before it
                first = len(q) - 1  # -1: the last prefix token predicts the answer's first token
                if first < 0:
                    last = model.model(input_ids=prefix_ids).last_hidden_state[0, -1:]
                    h = torch.cat([last, hidden[i, : len(a) - 1]])
                else:
                    h = hidden[i, first : first + len(a)]
                out.append(torch.equal(model.lm_head(h).argmax(-1), torch.tensor(list(a))))
    return torch.tensor(out, dtype=torch.bool)
