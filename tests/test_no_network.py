"""A snippet that reaches for the internet must fail loudly, in a chapter as in a unit test."""

import shutil
import socket
import textwrap
from pathlib import Path

import pytest
from pytest_socket import SocketConnectBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_unit_test_cannot_connect_outside():
    with pytest.raises(SocketConnectBlockedError), socket.create_connection(("93.184.215.14", 80), timeout=1):
        pass


def test_loopback_stays_open():
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass


def test_a_markdown_snippet_cannot_connect_outside(pytester: pytest.Pytester):
    # The real conftest and the real pytest config, applied to a one-block chapter.
    pytester.copy_example("conftest.py")
    shutil.copytree(Path(__file__).parents[1] / "harness", pytester.path / "harness")
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\naddopts = "--codeblocks -p no:codeblocks -p no:cacheprovider"\n'
    )
    pytester.makefile(
        ".md",
        chapter=textwrap.dedent(
            """
            ```python
            import urllib.request
            urllib.request.urlopen("http://93.184.215.14/", timeout=1)
            ```
            """
        ),
    )
    result = pytester.runpytest_subprocess("-p", "no:xdist")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*tried to use socket.socket.connect() with host "93.184.215.14"*'])
