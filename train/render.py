"""Render rollouts of a motorgym env to a video (GIF or MP4) and a PNG contact sheet.

    motorgym render runs/center_out --episodes 8 --out runs/center_out/reaches.mp4
    motorgym render runs/center_out --episodes 8 --grid --out reaches_grid.gif
    motorgym render --env motorgym/CenterOut-v0 --episodes 8 --out demo.gif      # the scripted controller

Given a run directory (of any algorithm: ours or SB3's) it renders the run's policy (deterministic
actions) in the run's own env settings (``--env-kwargs`` overrides some); without, the scripted
controller (``motorgym.agents.scripted``) on ``--env``. Frames come from the env's own renderer:
start zone, target (amber while cued, green after the go cue), the hand's fading trail and the
trial phase. ``--grid`` shows the episodes side by side in one video instead of one after another.
In centre-out tasks episode k reaches target k. (``--run DIR`` is the older spelling of the run directory.)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v3 as iio
import numpy as np

import motorgym  # noqa: F401  (registers the ids)
from motorgym.agents.agent import SingleEnvAgent
from motorgym.agents.checkpoint import atomic_path
from motorgym.agents.scripted import ScriptedReacher
from motorgym.envs.registration import check_env_arguments
from motorgym.train import kinds

Policy = Callable[[np.ndarray], np.ndarray]
VIDEO_SUFFIXES = (".gif", ".mp4")


def record_episodes(
    env: gym.Env[Any, Any], policy: Policy, episodes: int, seed: int = 0, frame_every: int = 2
) -> list[list[np.ndarray]]:
    """Run ``episodes`` episodes and return the rendered frames of each (every ``frame_every`` steps);
    ``policy.reset()``, if it exists, is called at each episode start.

    In centre-out tasks episode k goes to target k (modulo the number of targets), no catch trials.
    """
    center_out = "target_index" in getattr(env.unwrapped.task, "reset_options", {})
    n_targets = getattr(env.unwrapped.config, "n_targets", 1)
    all_frames = []
    for episode in range(episodes):
        options = {"target_index": episode % n_targets, "catch_trial": False} if center_out else None
        obs, _ = env.reset(seed=seed + episode, options=options)
        if hasattr(policy, "reset"):  # recurrent agents start each episode afresh
            policy.reset()
        frames = [env.render()]
        done, step = False, 0
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            done = terminated or truncated
            step += 1
            if done or step % frame_every == 0:
                frames.append(env.render())
        all_frames.append(frames)
    return all_frames


def save_video(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """Write frames to ``path``: GIF (Pillow) or MP4 (needs the imageio-ffmpeg package)."""
    if path.suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"video file must end in one of {VIDEO_SUFFIXES} (got {path.name!r})")
    with atomic_path(path) as temporary:
        if path.suffix == ".gif":
            iio.imwrite(temporary, np.stack(frames), duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(temporary, np.stack(frames), fps=fps, codec="libx264", macro_block_size=1)


def contact_sheet(images: list[np.ndarray], columns: int = 4) -> np.ndarray:
    """Tile equally sized images into one grid image (missing tiles white)."""
    rows = -(-len(images) // columns)
    height, width, channels = images[0].shape
    sheet = np.full((rows * height, columns * width, channels), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * height : (r + 1) * height, c * width : (c + 1) * width] = image
    return sheet


def grid_frames(episodes: list[list[np.ndarray]], columns: int = 4) -> list[np.ndarray]:
    """One video of the episodes side by side: frame i tiles every episode's frame i (an episode
    that has ended holds its last frame)."""
    length = max(len(frames) for frames in episodes)
    return [contact_sheet([frames[min(i, len(frames) - 1)] for frames in episodes], columns) for i in range(length)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir",
        type=Path,
        nargs="?",
        help="a run directory of any kind with an agent (omit: the scripted controller)",
    )
    parser.add_argument("--run", type=Path, dest="run_option", help=argparse.SUPPRESS)  # older spelling
    parser.add_argument("--env", default="motorgym/CenterOut-v0", help="env id for the scripted controller")
    parser.add_argument("--env-kwargs", type=json.loads, default={}, metavar="JSON", help="env keyword arguments")
    parser.add_argument("--episodes", type=int, default=8, help="number of episodes to render")
    parser.add_argument("--out", type=Path, default=Path("demo_output/center_out.gif"), help="output .gif or .mp4")
    parser.add_argument("--grid", action="store_true", help="episodes side by side in one video")
    parser.add_argument(
        "--png", type=Path, default=None, help="PNG contact sheet of each episode's last frame (default: beside --out)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=320, help="frame width and height in pixels")
    parser.add_argument("--frame-every", type=int, default=2, help="keep one frame every N control steps")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.out.suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"--out must end in one of {VIDEO_SUFFIXES} (got {args.out.name!r})")
    for option in ("episodes", "frame_every"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be >= 1 (got {getattr(args, option)})")
    run_dir = args.run_dir or args.run_option
    size = {"render_width_px": args.size, "render_height_px": args.size}
    policy: Policy
    if run_dir is not None:
        agent, env_id, env_kwargs = kinds.load_agent(run_dir)
        policy = SingleEnvAgent(agent)
    else:
        env_id, env_kwargs = args.env, {}
    env_kwargs = {**env_kwargs, **args.env_kwargs, **size}
    check_env_arguments(env_id, env_kwargs)
    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    if run_dir is None:
        policy = ScriptedReacher(env)
    episodes = record_episodes(env, policy, args.episodes, args.seed, args.frame_every)
    fps = env.metadata["render_fps"] / args.frame_every
    env.close()
    frames = grid_frames(episodes) if args.grid else [frame for frames in episodes for frame in frames]
    save_video(frames, args.out, fps)
    png = args.png or args.out.with_suffix(".png")
    with atomic_path(png) as temporary:
        iio.imwrite(temporary, contact_sheet([frames[-1] for frames in episodes]))
    print(f"wrote {args.out} ({len(frames)} frames, {fps:g} fps) and {png}")
    return 0
