"""Test harness shared by the unit tests (tests/) and the chapter snippets (docs/).

pytest-codeblocks runs every ```python block with exec() in this process, as a plain `pytest.Item`: autouse
fixtures and pytest-socket's own per-test switch do not reach such items. So the two guarantees every
snippet relies on live in `pytest_runtest_setup`, which runs for every item, whatever its kind:

* no network: only loopback is reachable; anything else raises `SocketBlockedError` at connect();
* a clean slate: RNGs re-seeded, figures closed, matplotlib and torch settings restored, so blocks pass
  alone, in any order and under pytest-xdist.
"""

from __future__ import annotations

import os
import random

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


@pytest.hookimpl(trylast=True)  # after pytest-socket, which lifts its restrictions between tests
def pytest_runtest_setup(item: pytest.Item) -> None:
    socket_allow_hosts(LOOPBACK, allow_unix_socket=True)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(_TORCH_THREADS)
    torch.set_default_dtype(torch.float32)
    plt.close("all")
    matplotlib.rcdefaults()  # keeps the backend (Agg, from MPLBACKEND above)
