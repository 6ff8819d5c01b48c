"""Render rollouts of a motorgym env to a video (GIF or MP4) and a PNG contact sheet.

    python -m motorgym.train.render --env motorgym/CenterOut-v0 --episodes 8 --out demo.gif
    python -m motorgym.train.render --run runs/center_out --episodes 8 --out runs/center_out/reaches.gif

With ``--run`` it renders a trained run's policy (deterministic actions) in the run's own env
settings; without, the scripted controller (``motorgym.agents.scripted``). In centre-out tasks
episode k reaches target k.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v3 as iio
import numpy as np

import motorgym  # noqa: F401  (registers the ids)
from motorgym.agents.scripted import ScriptedReacher

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


class SingleEnvAgent:
    """One env driven by a batched agent (``reset(num_envs)``, ``act(obs, episode_start)``)."""

    def __init__(self, agent: Any) -> None:
        self.agent, self._episode_start = agent, True

    def reset(self) -> None:
        """Called at the start of each episode."""
        self.agent.reset(1)
        self._episode_start = True

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        start = np.array([1.0 if self._episode_start else 0.0], dtype=np.float32)
        self._episode_start = False
        return self.agent.act(obs[None], start)[0]


def save_video(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """Write frames to ``path``: GIF (Pillow) or MP4 (needs the imageio-ffmpeg package)."""
    if path.suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"video file must end in one of {VIDEO_SUFFIXES} (got {path.name!r})")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        iio.imwrite(path, np.stack(frames), duration=1000.0 / fps, loop=0)
        return
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError as error:
        raise RuntimeError("MP4 output needs imageio-ffmpeg: pip install imageio-ffmpeg (or write a .gif)") from error
    iio.imwrite(path, np.stack(frames), fps=fps, codec="libx264", macro_block_size=1)


def contact_sheet(images: list[np.ndarray], columns: int = 4) -> np.ndarray:
    """Tile equally sized images into one grid image (missing tiles white)."""
    rows = -(-len(images) // columns)
    height, width, channels = images[0].shape
    sheet = np.full((rows * height, columns * width, channels), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * height : (r + 1) * height, c * width : (c + 1) * width] = image
    return sheet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="motorgym/CenterOut-v0", help="a motorgym env id (ignored with --run)")
    parser.add_argument("--run", type=Path, default=None, help="a run directory: render its trained policy")
    parser.add_argument("--episodes", type=int, default=8, help="number of episodes to render")
    parser.add_argument("--out", type=Path, default=Path("demo_output/center_out.gif"), help="output .gif or .mp4")
    parser.add_argument(
        "--png",
        type=Path,
        default=None,
        help="also write a PNG contact sheet of each episode's last frame (default: beside --out)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=320, help="frame width and height in pixels")
    parser.add_argument("--frame-every", type=int, default=2, help="keep one frame every N control steps")
    args = parser.parse_args(argv)
    if args.out.suffix not in VIDEO_SUFFIXES:
        parser.error(f"--out must end in one of {VIDEO_SUFFIXES} (got {args.out.name!r})")

    if args.run is not None:
        from motorgym.train.evaluate import load_agent

        agent, env_id, env_kwargs = load_agent(args.run)
        env = gym.make(
            env_id, render_mode="rgb_array", render_width_px=args.size, render_height_px=args.size, **env_kwargs
        )
        policy: Policy = SingleEnvAgent(agent)
    else:
        env = gym.make(args.env, render_mode="rgb_array", render_width_px=args.size, render_height_px=args.size)
        policy = ScriptedReacher(env)
    episodes = record_episodes(env, policy, args.episodes, args.seed, args.frame_every)
    fps = env.metadata["render_fps"] / args.frame_every
    save_video([frame for frames in episodes for frame in frames], args.out, fps)
    png = args.png or args.out.with_suffix(".png")
    iio.imwrite(png, contact_sheet([frames[-1] for frames in episodes]))
    env.close()
    print(f"wrote {args.out} ({sum(map(len, episodes))} frames, {fps:g} fps) and {png}")


if __name__ == "__main__":
    main()
