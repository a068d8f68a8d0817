"""The shipped systemd unit, deploy/digestbot.service: the README shows exactly that file, and
systemd's own checker accepts it (`systemd-analyze verify`, part of the project's machines).

The Docker image is checked by CI itself (.ci/docker-check): it needs a Docker engine and root,
which a test run does not have.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "digestbot.service"
INSTALLED = "/opt/digestbot/bin/digestbot"  # where the README installs it


def readme_unit() -> str:
    """The ```ini block of the README's "systemd (without Docker)" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### systemd (without Docker)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```ini\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, f"expected one ```ini block in the systemd section, found {blocks}"
    return str(blocks[0])


def test_readme_shows_the_shipped_unit_file() -> None:
    assert readme_unit() == UNIT.read_text(encoding="utf-8")
    assert "deploy/digestbot.service" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian's systemd) is needed to check the unit"
    # verify checks that ExecStart's program exists: point it at this checkout's installed
    # console script, the unit otherwise as shipped.
    script = Path(sys.executable).parent / "digestbot"
    assert script.is_file(), f"{script}: install the project first (pip install -e .)"
    text = UNIT.read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED} run\n" in text
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(INSTALLED, str(script)), encoding="utf-8")

    verified = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    # An unknown key or a bad value is only a warning (exit 0): any output fails the test.
    assert (verified.returncode, verified.stdout, verified.stderr) == (0, "", "")
