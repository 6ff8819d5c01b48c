"""Rendering works headless (EGL and OSMesa) and shows the arm, start zone and target states."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import imageio.v3 as iio
import numpy as np
import pytest

from motorgym.agents.scripted import ScriptedReacher
from motorgym.envs import CenterOutEnv
from motorgym.envs.gl import display_available
from motorgym.train.cli import main as motorgym
from motorgym.train.render import contact_sheet, save_video

SIZE = 160


def amber_pixels(frame: np.ndarray) -> int:
    """The cued target (before the go cue)."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return int(((r > 200) & (g > 80) & (g < 170) & (b < 90)).sum())


def green_pixels(frame: np.ndarray) -> int:
    """The target after the go cue."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return int(((r < 90) & (g > 120) & (b < 110)).sum())


def blue_pixels(frame: np.ndarray) -> int:
    """The start zone."""
    r, b = frame[..., 0].astype(int), frame[..., 2].astype(int)
    return int(((b > 150) & (r < 150) & (b - r > 50)).sum())


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v0", "motorgym/MuscleCenterOut-v0"])
def test_frames_show_the_cue_then_the_go_state(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array", render_width_px=SIZE, render_height_px=SIZE + 40)
    env.reset(seed=0, options={"target_index": 2, "delay_ms": 300.0, "catch_trial": False})
    cued = env.render()
    assert cued.shape == (SIZE + 40, SIZE, 3) and cued.dtype == np.uint8
    assert amber_pixels(cued) > 10 and green_pixels(cued) == 0 and blue_pixels(cued) > 10
    controller = ScriptedReacher(env)
    for _ in range(35):
        _, _, _, _, info = env.step(controller())
    assert info["go_cue"]
    go = env.render()
    assert green_pixels(go) > 10 and amber_pixels(go) == 0
    assert np.abs(go.astype(int) - cued.astype(int)).sum() > 0  # and the arm moved
    env.close()
    env.close()  # closing twice is harmless


def test_render_without_a_mode_warns_and_returns_none() -> None:
    env = gym.make("motorgym/Reach-v0")
    env.reset(seed=0)
    with pytest.warns(UserWarning, match='render_mode="rgb_array"'):
        assert env.unwrapped.render() is None


@pytest.mark.skipif(display_available(), reason="this machine has a display")
def test_human_mode_without_a_display_is_a_clear_error() -> None:
    # (gym.make itself would substitute rgb_array frames shown by Gymnasium's HumanRendering wrapper.)
    with pytest.raises(ValueError, match='"human" needs a display'):
        CenterOutEnv(render_mode="human")


_PROBE = """
import motorgym, gymnasium as gym, mujoco, os
env = gym.make("motorgym/MuscleReach-v0", render_mode="rgb_array", render_width_px=64, render_height_px=64)
env.reset(seed=0)
frame = env.render()
assert frame.shape == (64, 64, 3) and frame.std() > 5, frame.std()
print("backend=" + os.environ["MUJOCO_GL"])
"""


@pytest.mark.parametrize("backend", ["auto", "egl", "osmesa"])
def test_headless_backends(backend: str) -> None:
    """A fresh process renders with EGL, with OSMesa, and with nothing set (motorgym picks one)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")
    }
    if backend != "auto":
        env["MUJOCO_GL"] = backend
    result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    # (PyOpenGL's OSMesa platform prints a stray line of its own at exit.)
    assert f"backend={'egl' if backend == 'auto' else backend}" in result.stdout.splitlines()


def test_render_command_writes_a_gif_and_a_png(tmp_path, capsys) -> None:
    out = tmp_path / "reach.gif"
    motorgym(["render", "--env", "motorgym/CenterOut-v0", "--episodes", "2", "--out", str(out), "--size", "96"])
    frames = iio.imread(out)
    assert frames.ndim == 4 and frames.shape[1:3] == (96, 96) and len(frames) > 40
    assert max(green_pixels(f[..., :3]) for f in frames) > 3  # the go state is visible in the video
    sheet = iio.imread(out.with_suffix(".png"))
    assert sheet.shape[:2] == (96, 4 * 96) and sheet.std() > 5
    with pytest.raises(SystemExit):  # refused before any episode is rendered
        motorgym(["render", "--episodes", "1", "--out", str(tmp_path / "x.avi")])
    assert "--out must end in one of ('.gif', '.mp4')" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"video file must end in one of \('.gif', '.mp4'\)"):
        save_video([sheet], tmp_path / "x.avi", fps=10)


def test_contact_sheet_tiles_images() -> None:
    tiles = [np.full((2, 3, 3), i, dtype=np.uint8) for i in range(5)]
    sheet = contact_sheet(tiles, columns=2)
    assert sheet.shape == (6, 6, 3)
    assert sheet[0, 0, 0] == 0 and sheet[0, 3, 0] == 1 and sheet[4, 0, 0] == 4 and sheet[4, 3, 0] == 255


def test_motorgym_render_writes_an_mp4_grid_of_the_scripted_controller(tmp_path) -> None:
    from motorgym.train.cli import main

    out = tmp_path / "grid.mp4"
    argv = ["render", "--env", "motorgym/CenterOut-v0", "--episodes", "4", "--grid", "--size", "128"]
    assert main([*argv, "--frame-every", "4", "--out", str(out)]) == 0
    frames = iio.imread(out)  # read back through ffmpeg
    assert frames.shape[1:] == (128, 4 * 128, 3) and 20 < len(frames) < 60  # 4 episodes side by side, ~1-2 s
    # The target is visible in every tile: cued (amber) at first, green once the go cue comes.
    first, last = frames[0], frames[-1]
    for tile in range(4):
        assert amber_pixels(first[:, tile * 128 : (tile + 1) * 128]) > 3
        assert green_pixels(last[:, tile * 128 : (tile + 1) * 128]) > 3


def test_frames_show_the_hand_trail_and_the_phase(tmp_path) -> None:
    env = gym.make("motorgym/CenterOut-v0", render_mode="rgb_array", render_width_px=SIZE, render_height_px=SIZE)
    policy = ScriptedReacher(env)
    obs, _ = env.reset(seed=0, options={"catch_trial": False})
    first = env.render()
    label_area = (slice(0, SIZE // 8), slice(0, SIZE // 2))
    assert (first[label_area] < 100).all(axis=-1).sum() > 10  # dark text on the light background
    for _ in range(80):
        obs, *_ = env.step(policy(obs))
        moving = env.render()
    unwrapped = env.unwrapped
    frames = unwrapped._frames
    assert len(frames._trail) > 10  # one trail point per rendered frame of this trial
    obs, _ = env.reset(seed=1)
    env.render()
    assert len(frames._trail) == 1  # a new trial starts a new trail
    assert np.abs(moving.astype(int) - first.astype(int)).sum() > 0
    env.close()
