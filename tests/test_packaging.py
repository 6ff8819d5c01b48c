"""The wheel holds one import package, motorgym, with its MJCF assets, and works installed."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_USE_INSTALLED = """
import importlib, os, sys
import gymnasium as gym
import motorgym
assert motorgym.__file__.startswith(sys.prefix), motorgym.__file__   # the wheel, not the checkout
for name in ("envs", "agents", "train"):  # no stray top-level packages
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError(f"top-level package {name!r} is importable")
from motorgym.envs import ENV_IDS
ids = [i for i in gym.registry if i.startswith("motorgym/")]
assert sorted(ids) == sorted(ENV_IDS) and len(ids) >= 8, ids   # every version of every task
for env_id in ids:
    env = gym.make(env_id, render_mode="rgb_array", render_width_px=32, render_height_px=32)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert env.render().shape == (32, 32, 3)
import motorgym.agents, motorgym.train
print("ok", motorgym.__version__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel_path,) = out.glob("motorgym-*.whl")
    return wheel_path


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"motorgym", f"motorgym-{wheel.name.split('-')[1]}.dist-info"}
    for path in (
        "motorgym/envs/assets/arm26_skeleton.xml",
        "motorgym/envs/assets/arm26_torque.xml",
        "motorgym/envs/assets/arm26_muscle.xml",
        "motorgym/envs/tasks/center_out.py",
        "motorgym/agents/scripted.py",
        "motorgym/train/render.py",
    ):
        assert path in names
    assert not any(name.startswith("motorgym/tests") for name in names)


def test_installed_wheel_makes_every_env_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Dependencies come from this interpreter's environment (a path entry processes no .pth files,
    # so this checkout's editable install stays invisible); motorgym itself only from the wheel.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "host_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run(
        [str(python), "-c", _USE_INSTALLED], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok 0.1.0" in result.stdout
