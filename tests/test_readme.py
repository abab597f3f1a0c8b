"""The README's client walkthrough works as written against a running hub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, S, start_hub_process

pytestmark = pytest.mark.slow


def test_readme_connect_a_client(tmp_path: Path) -> None:
    """Its account commands and its Python example create an incident and print the live event."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Connect a client") :]
    shell = re.search(r"```sh\n(.*?)```", section, re.S)
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert shell and example
    data = tmp_path / "var"
    env = {**os.environ, "DATA_DIR": str(data), "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"}
    env.pop("DISPATCH_SECRET", None)
    for line in shell.group(1).splitlines():
        command = line.split("#")[0].strip().replace(".venv/bin/", "")
        if command:
            subprocess.run(command, shell=True, check=True, cwd=tmp_path, env=env, input="pw-from-stdin\n", text=True)
    hub = start_hub_process(data, test_secret=False)  # the data dir's own key signed the README's token
    try:
        hub.wait_healthy()
        (tmp_path / "example.py").write_text(example.group(1))
        with subprocess.Popen(
            [sys.executable, str(tmp_path / "example.py")],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, "PORT": str(hub.port), "PYTHONPATH": str(ROOT)},
        ) as proc:
            assert proc.stdout is not None
            try:
                out = proc.stdout.readline()
                assert out.startswith("created {'incident': 'I"), out
                seen = [proc.stdout.readline() for _ in range(3)]
                assert any(line.startswith("EventFrame(topic='incidents'") for line in seen), seen
            finally:
                proc.kill()
                proc.wait(10 * S)
    finally:
        hub.stop()
