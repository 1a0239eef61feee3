"""A linear-chain conditional random field written out (forward algorithm, sentence score, negative
log-likelihood, Viterbi decoding), batched with padding masks, and the BiLSTM tagger it sits on.

The CRF scores a tag sequence ``y`` of a sentence with emission scores ``E`` (one row of ``K`` scores per
token, from any network) as ``start[y_0] + sum_t E[t, y_t] + sum_t A[y_{t-1}, y_t] + end[y_last]``, and
turns the scores of all ``K ** T`` sequences into probabilities with one normaliser ``Z``, computed in
``O(T K^2)`` by the forward algorithm in log-space.

Examples:
    >>> import torch
    >>> crf = CRF(3)
    >>> emissions = torch.randn(2, 4, 3)
    >>> mask = torch.tensor([[True] * 4, [True, True, False, False]])
    >>> crf.decode(emissions, mask)[1].__len__()
    2
    >>> tags = torch.zeros(2, 4, dtype=torch.long)
    >>> bool((crf.log_partition(emissions, mask) >= crf.score(emissions, tags, mask)).all())
    True
"""

from __future__ import annotations

import torch
from torch import nn

from lessons.checks import check_choice, check_float, check_int, check_tensor

__all__ = ["CRF", "BiLSTMTagger"]


class CRF(nn.Module):
    """A linear-chain CRF over `num_tags` tags: learned transition scores ``transitions[i, j]`` (tag ``i``
    followed by tag ``j``), ``start[j]`` (a sentence opens with ``j``) and ``end[i]`` (it closes with ``i``).

    Every method takes `emissions` ``(B, T, K)`` float and a `mask` ``(B, T)`` bool that is ``True`` on
    the real tokens: each row's real tokens come first (``mask[:, 0]`` all ``True``), padding after them.
    Padded positions change nothing: a sentence padded to any length gets the same scores and tags.

    Args:
        num_tags: ``K``, the number of tags (>= 1).

    Raises:
        TypeError, ValueError: `num_tags` is not an int >= 1.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = check_int("num_tags", num_tags, ge=1)
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    def __repr__(self) -> str:
        return f"CRF(num_tags={self.num_tags})"

    def _check(
        self, emissions: torch.Tensor, mask: torch.Tensor | None, tags: torch.Tensor | None = None
    ) -> torch.Tensor:
        emissions = check_tensor("emissions", emissions)
        if emissions.ndim != 3 or emissions.shape[2] != self.num_tags or emissions.shape[1] < 1:
            raise ValueError(
                f"emissions must be (batch, seq_len >= 1, num_tags={self.num_tags}), "
                f"got {tuple(emissions.shape)}"
            )
        if not emissions.is_floating_point():
            raise TypeError(f"emissions must be a float tensor, got {emissions.dtype}")
        if mask is None:
            mask = torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        mask = check_tensor("mask", mask)
        if mask.dtype != torch.bool or mask.shape != emissions.shape[:2]:
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(emissions.shape[:2])}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        if not mask[:, 0].all():
            raise ValueError("mask[:, 0] must be True: every sentence needs at least one token, at the start")
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            raise ValueError(
                "mask must be True on each row's first tokens and False after them (padding at the end)"
            )
        if tags is not None:
            tags = check_tensor("tags", tags)
            if tags.shape != emissions.shape[:2] or tags.dtype != torch.long:
                raise ValueError(
                    f"tags must be a long tensor of shape {tuple(emissions.shape[:2])}, "
                    f"got {tags.dtype} {tuple(tags.shape)}"
                )
            real = tags[mask]
            if real.numel() and (real.min() < 0 or real.max() >= self.num_tags):
                raise ValueError(f"tags must lie in [0, {self.num_tags}) on the real tokens")
        return mask

    def score(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The unnormalised log-score of the given tag sequences.

        Args:
            emissions: ``(B, T, K)`` float.
            tags: ``(B, T)`` long in ``[0, K)`` (any value on padded positions).
            mask: ``(B, T)`` bool, ``None`` for no padding.

        Returns:
            ``(B,)``: ``start[y_0] + sum_t E[t, y_t] + sum_{t>=1} A[y_{t-1}, y_t] + end[y_last]`` over the
            real tokens of each row.
        """
        mask = self._check(emissions, mask, tags)
        tags = tags.masked_fill(~mask, 0)  # any real tag id on the padding; masked out below
        m = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags[:, :, None])[:, :, 0]  # (B, T): E[t, y_t]
        moved = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1): A[y_{t-1}, y_t]
        last = tags.gather(1, (mask.sum(1) - 1)[:, None])[:, 0]  # each row's last real tag
        return self.start[tags[:, 0]] + (emitted * m).sum(1) + (moved * m[:, 1:]).sum(1) + self.end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``log Z``: the log of the summed exponentiated scores of all tag sequences, by the forward
        algorithm in log-space (``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + A[i, j]) + E[t, j]``).

        Args:
            emissions: ``(B, T, K)`` float.
            mask: ``(B, T)`` bool, ``None`` for no padding.

        Returns:
            ``(B,)``.
        """
        mask = self._check(emissions, mask)
        alpha = self.start + emissions[:, 0]  # (B, K): log-sum of the scores of all prefixes ending in j
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha[:, :, None] + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)  # padding: carry alpha on unchanged
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """The negative log-likelihood ``log Z - score(y)`` of the true tags.

        Args:
            emissions: ``(B, T, K)`` float.
            tags: ``(B, T)`` long, the true tags.
            mask: ``(B, T)`` bool, ``None`` for no padding.
            reduction: ``"mean"`` (over sentences), ``"sum"`` or ``"none"``.

        Returns:
            A scalar, or ``(B,)`` with ``reduction="none"``.
        """
        check_choice("reduction", reduction, ("mean", "sum", "none"))
        loss = self.log_partition(emissions, mask) - self.score(emissions, tags, mask)
        return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()

    def forward(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """The same as `nll`: calling the module gives the loss to minimise."""
        return self.nll(emissions, tags, mask, reduction)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """The best tag sequence of each sentence, by Viterbi: the forward algorithm with max for logsumexp,
        remembering which previous tag gave each maximum, then following those pointers back.

        Args:
            emissions: ``(B, T, K)`` float.
            mask: ``(B, T)`` bool, ``None`` for no padding.

        Returns:
            ``B`` lists of tag ids, each as long as its row's real tokens.
        """
        mask = self._check(emissions, mask)
        delta = self.start + emissions[:, 0]  # (B, K): best score of a prefix ending in j
        pointers = []
        for t in range(1, emissions.shape[1]):
            best, arg = (delta[:, :, None] + self.transitions).max(dim=1)  # over the previous tag i
            delta = torch.where(mask[:, t, None], best + emissions[:, t], delta)
            pointers.append(arg)
        lengths = mask.sum(1).tolist()
        last = (delta + self.end).argmax(1).tolist()
        paths = []
        for b, (n, tag) in enumerate(zip(lengths, last, strict=True)):
            path = [tag]
            for t in range(n - 2, -1, -1):  # pointers[t] leads from position t + 1 back to t
                tag = int(pointers[t][b, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths


class BiLSTMTagger(nn.Module):
    """Token ids -> embeddings -> bidirectional LSTM -> a linear layer's emission scores, with a CRF on
    top (``crf=True``, Huang et al. 2015; Lample et al. 2016) or a softmax for each token on its own.

    Args:
        vocab_size: number of token ids (id 0 is padding).
        num_tags: ``K``.
        embed_dim: size of the token embeddings.
        hidden: size of each direction's LSTM state (the emissions read ``2 * hidden`` numbers).
        crf: whether tags are scored jointly by a `CRF`, or independently by a softmax.
        dropout: dropout on the embeddings and on the LSTM outputs, in ``[0, 1)``.

    Raises:
        TypeError, ValueError: a size is not an int >= 1, or `dropout` is outside ``[0, 1)``.
    """

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        embed_dim: int = 64,
        hidden: int = 64,
        crf: bool = True,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, ge=2)
        check_int("num_tags", num_tags, ge=1)
        check_int("embed_dim", embed_dim, ge=1)
        check_int("hidden", hidden, ge=1)
        check_float("dropout", dropout, ge=0, lt=1)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, num_tags)
        self.crf = CRF(num_tags) if crf else None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids (0 = padding, at the end of each row) -> ``(B, T, K)`` emission scores."""
        return self.emissions(ids)

    def emissions(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids (0 = padding, at the end of each row) -> ``(B, T, K)`` emission scores."""
        lengths = (ids != 0).sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.dropout(self.embed(ids)), lengths, batch_first=True, enforce_sorted=False
        )
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=ids.shape[1])
        return self.out(self.dropout(h))

    def loss(self, ids: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch: the CRF's negative log-likelihood per sentence, or the softmax's
        cross-entropy per token. `ids`, `tags`: ``(B, T)`` long; padding (id 0) is ignored."""
        mask = ids != 0
        e = self.emissions(ids)
        if self.crf is not None:
            return self.crf.nll(e, tags, mask)
        return nn.functional.cross_entropy(e[mask], tags[mask])

    @torch.no_grad()
    def predict(self, ids: torch.Tensor) -> list[list[int]]:
        """``(B, T)`` token ids -> ``B`` lists of tag ids (Viterbi with a CRF, else each token's argmax)."""
        mask = ids != 0
        e = self.emissions(ids)
        if self.crf is not None:
            return self.crf.decode(e, mask)
        best = e.argmax(2)
        return [row[: int(n)].tolist() for row, n in zip(best, mask.sum(1), strict=True)]
