"""The persona ships: the wheel carries the avatar and the entry point Jupyter AI looks for, the
extra names jupyter-ai 3, and the installed entry point gives the persona."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_carries_the_avatar_and_the_entry_point(tmp_path: Path) -> None:
    source = tmp_path / "src"        # a copy: building writes build/ and egg-info beside it
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "junis_jupyter", source / "junis_jupyter",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, timeout=300,
                   capture_output=True)
    wheel = zipfile.ZipFile(next((tmp_path / "dist").glob("junis_jupyter-*.whl")))
    names = wheel.namelist()
    assert "junis_jupyter/jupyter_ai/static/junis.svg" in names
    assert wheel.read("junis_jupyter/jupyter_ai/static/junis.svg").startswith(b"<svg")
    meta = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "[jupyter_ai.personas]\njunis = junis_jupyter.jupyter_ai.persona:JunisPersona" in \
        wheel.read(meta).decode()
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: jupyter-ai<4,>=3.2; extra == \"jupyter-ai\"" in metadata
    assert all("extra ==" in line for line in metadata.splitlines()    # a kernel needs none
               if line.startswith("Requires-Dist: jupyter-ai"))


def test_jupyter_ai_finds_the_persona_named_junis_with_its_avatar() -> None:
    found = [ep for ep in entry_points(group="jupyter_ai.personas") if ep.name == "junis"]
    assert len(found) == 1
    persona = found[0].load()
    from jupyter_ai_persona_manager import BasePersona
    assert issubclass(persona, BasePersona)
    from junis_jupyter.jupyter_ai.persona import AVATAR
    assert Path(AVATAR).is_file() and AVATAR.endswith("junis.svg")
