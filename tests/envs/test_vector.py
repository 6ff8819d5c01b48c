"""The native batched env: exactly N single envs, Gymnasium's vector API, and its wrappers."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

from motorgym.envs.vector import ArmTaskVectorEnv
from tests.conftest import ALL_IDS

# Short trials, so that every env ends several episodes (by success, trial end or time limit); the
# newer ids keep a (shorter) cue latency and their costs of speed and false starts.
FAST_CENTER_OUT = dict(
    delay_range_ms=(30.0, 80.0), response_window_ms=250.0, hold_ms=30.0, catch_fraction=0.3, max_episode_steps=30
)
FAST = {
    env_id: (
        {**FAST_CENTER_OUT, **({} if env_id.endswith("-v0") else {"go_cue_latency_ms": 50.0})}
        if "CenterOut" in env_id
        else dict(max_episode_steps=12)
    )
    for env_id in ALL_IDS
}


def _assert_info_equal(native: dict, reference: dict, where: str) -> None:
    for key, value in reference.items():
        if key.startswith("_"):
            continue
        mask = reference[f"_{key}"]
        np.testing.assert_array_equal(native[f"_{key}"][mask], mask[mask], err_msg=f"{where}: _{key}")
        if isinstance(value, dict):
            _assert_info_equal(native[key], value, f"{where}.{key}")
        elif value.dtype == object:  # final_obs: one array per env that ended
            for i in np.flatnonzero(mask):
                np.testing.assert_array_equal(native[key][i], value[i], err_msg=f"{where}: {key}[{i}]")
        else:
            assert native[key].dtype == value.dtype, (where, key)
            np.testing.assert_array_equal(native[key][mask], value[mask], err_msg=f"{where}: {key}")


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_batched_env_reproduces_single_envs_exactly(env_id: str, mode: AutoresetMode) -> None:
    assert_batched_equals_single(env_id, mode, FAST[env_id])


#: Perturbations (each on its own and the channel with its field off), inside FAST's short trials.
PERTURBED = {
    "field, pulse and rotation": dict(
        force_field="curl_ccw",
        load_pulse_force_n=(1.0, -2.0),
        load_pulse_onset_ms=20.0,
        load_pulse_duration_ms=50.0,
        visual_rotation_deg=30.0,
    ),
    "channel": dict(force_field=((0.0, 12.0), (-12.0, 0.0)), channel=True),
}


@pytest.mark.parametrize("env_id", ["motorgym/CenterOut-v1", "motorgym/MuscleCenterOut-v1"])
@pytest.mark.parametrize("perturbation", list(PERTURBED))
def test_batched_env_reproduces_single_envs_exactly_under_perturbations(env_id: str, perturbation: str) -> None:
    assert_batched_equals_single(env_id, AutoresetMode.NEXT_STEP, {**FAST[env_id], **PERTURBED[perturbation]})


def assert_batched_equals_single(env_id: str, mode: AutoresetMode, kwargs: dict) -> None:
    num_envs, steps = 3, 90
    native = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", autoreset_mode=mode, num_threads=2, **kwargs
    )
    reference = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **kwargs
    )
    assert isinstance(native, ArmTaskVectorEnv)
    obs_n, info_n = native.reset(seed=11)
    obs_r, info_r = reference.reset(seed=11)
    np.testing.assert_array_equal(obs_n, obs_r)
    _assert_info_equal(info_n, info_r, "reset")
    rng = np.random.default_rng(0)
    low, high = native.single_action_space.low, native.single_action_space.high
    episodes_ended = np.zeros(num_envs, dtype=int)
    for t in range(steps):
        actions = rng.uniform(low, high, size=(num_envs, len(low))).astype(np.float32)
        out_n, out_r = native.step(actions), reference.step(actions)
        for name, a, b in zip(("obs", "reward", "terminated", "truncated"), out_n[:4], out_r[:4], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"step {t}: {name}")
        _assert_info_equal(out_n[4], out_r[4], f"step {t}")
        episodes_ended += out_n[2] | out_n[3]
    assert episodes_ended.min() >= 2, episodes_ended  # at least two autoresets in every env
    native.close()
    reference.close()


def test_seeding_is_per_env() -> None:
    envs = gym.make_vec("motorgym/CenterOut-v0", num_envs=3)
    _, info = envs.reset(seed=5)
    singles = [gym.make("motorgym/CenterOut-v0").reset(seed=5 + i)[1]["target_pos"] for i in range(3)]
    np.testing.assert_array_equal(info["target_pos"], singles)
    _, info_list = envs.reset(seed=[7, 8, 9])
    _, info_again = envs.reset(seed=[7, 8, 9])
    np.testing.assert_array_equal(info_list["target_pos"], info_again["target_pos"])
    with pytest.raises(ValueError, match="seed must be an int or a list of 3 seeds"):
        envs.reset(seed=[1, 2])


def test_vector_api_and_errors() -> None:
    envs = gym.make_vec(
        "motorgym/MuscleReach-v0", num_envs=5, render_mode="rgb_array", render_width_px=48, render_height_px=48
    )
    assert envs.observation_space.shape == (5, 17) and envs.action_space.shape == (5, 6)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    assert info["hand_pos"].shape == (5, 2) and info["_hand_pos"].all()
    assert envs.render().shape == (48, 48, 3)
    with pytest.raises(ValueError, match=r"action must have shape \(5, 6\)"):
        envs.step(np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"actions must be finite: NaN or inf in the actions of env\(s\) 0, 1, 2"):
        envs.step(np.full((5, 6), np.nan))
    envs.close()
    with pytest.raises(ValueError, match=r"autoreset_mode must be one of \['NEXT_STEP', 'SAME_STEP'\]"):
        gym.make_vec("motorgym/Reach-v0", num_envs=2, autoreset_mode="DISABLED")
    with pytest.raises(ValueError, match="num_envs must be an int >= 1"):
        gym.make_vec("motorgym/Reach-v0", num_envs=0)
    with pytest.raises(TypeError, match=r"unknown argument\(s\) 'n_target'"):
        gym.make_vec("motorgym/CenterOut-v0", num_envs=2, n_target=3)
    string_mode = gym.make_vec("motorgym/Reach-v0", num_envs=2, autoreset_mode="SameStep")
    assert string_mode.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP


def test_gymnasium_vector_wrappers() -> None:
    envs = RecordEpisodeStatistics(NormalizeObservation(gym.make_vec("motorgym/Reach-v0", num_envs=4)))
    envs.reset(seed=0)
    lengths = []
    for _ in range(320):
        obs, _, terminated, truncated, info = envs.step(envs.action_space.sample())
        if "episode" in info:
            lengths.extend(info["episode"]["l"][info["_episode"]])
    assert lengths and max(lengths) <= 150
    assert abs(float(np.mean(obs))) < 3.0  # normalised


def test_sb3_adapter_matches_dummy_vec_env() -> None:
    """The adapter gives what SB3's own DummyVecEnv of single envs gives, terminal observations included."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from motorgym.envs.sb3 import make_sb3_vec_env

    kwargs = FAST["motorgym/CenterOut-v0"]
    ours = make_sb3_vec_env("motorgym/CenterOut-v0", num_envs=3, seed=4, **kwargs)
    env_kwargs = {k: v for k, v in kwargs.items() if k != "max_episode_steps"}
    theirs = DummyVecEnv([lambda: gym.make("motorgym/CenterOut-v0", max_episode_steps=30, **env_kwargs)] * 3)
    theirs.seed(4)
    np.testing.assert_array_equal(ours.reset(), theirs.reset())
    rng = np.random.default_rng(1)
    ended = 0
    for _ in range(80):
        actions = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
        obs_a, rew_a, done_a, infos_a = ours.step(actions)
        obs_b, rew_b, done_b, infos_b = theirs.step(actions)
        np.testing.assert_array_equal(obs_a, obs_b)
        np.testing.assert_allclose(rew_a, rew_b.astype(np.float32))
        np.testing.assert_array_equal(done_a, done_b)
        for a, b in zip(infos_a, infos_b, strict=True):
            for key in ("success", "false_start", "target_index", "TimeLimit.truncated"):
                assert a.get(key) == b.get(key), key
            if "terminal_observation" in b:
                ended += 1
                np.testing.assert_array_equal(a["terminal_observation"], b["terminal_observation"])
                assert a["is_success"] == b["success"]
    assert ended >= 6


def test_sb3_ppo_trains_on_the_adapter() -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from motorgym.envs.sb3 import make_sb3_vec_env

    fast = FAST["motorgym/MuscleCenterOut-v0"]
    venv = VecMonitor(make_sb3_vec_env("motorgym/MuscleCenterOut-v0", 8, seed=0, **fast), info_keywords=("is_success",))
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512 and len(model.ep_info_buffer) > 0
    assert "is_success" in model.ep_info_buffer[0]


@pytest.mark.parametrize("num_envs", [1, 4])
def test_state_round_trip_continues_exactly(num_envs: int) -> None:
    """get_state/set_state into a fresh vector env continues the run bit for bit (for resuming)."""
    kwargs = dict(num_envs=num_envs, **FAST["motorgym/MuscleCenterOut-v0"])
    first = gym.make_vec("motorgym/MuscleCenterOut-v0", **kwargs)
    first.reset(seed=3)
    rng = np.random.default_rng(0)
    actions = rng.uniform(0, 1, (60, num_envs, 6))
    for a in actions[:25]:
        first.step(a)
    arrays, rng_states = first.get_state()
    second = gym.make_vec("motorgym/MuscleCenterOut-v0", **kwargs)
    second.reset(seed=99)  # a different history, overwritten by set_state
    second.set_state(arrays, rng_states)
    for a in actions[25:]:
        out_a, out_b = first.step(a), second.step(a)
        for x, y in zip(out_a[:4], out_b[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        _assert_info_equal(out_b[4], out_a[4], "after restore")


def test_a_bad_action_in_a_large_batch_names_the_env_in_a_short_message() -> None:
    envs = gym.make_vec("motorgym/Reach-v0", num_envs=256, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    actions = np.zeros((256, 2))
    actions[17, 1] = np.inf
    with pytest.raises(ValueError) as error:
        envs.step(actions)
    assert "env(s) 17 " in str(error.value) and len(str(error.value)) < 200
    actions[:] = np.nan
    with pytest.raises(ValueError, match=r"env\(s\) 0, 1, 2, 3, 4 and 251 more") as error:
        envs.step(actions)
    assert len(str(error.value)) < 200
    envs.close()


def test_a_trial_schedule_sets_each_env_s_trials_through_autoresets() -> None:
    envs = gym.make_vec("motorgym/CenterOut-v0", num_envs=3, vectorization_mode="vector_entry_point", **FAST_CENTER_OUT)
    handed_out: list[tuple[int, int]] = []

    def schedule(env: int) -> dict:
        trial = len(handed_out)
        handed_out.append((env, trial))
        return {"target_index": trial % 8, "channel": trial % 2 == 1}

    envs.unwrapped.trial_options = schedule
    _, info = envs.reset(seed=0)
    assert handed_out == [(0, 0), (1, 1), (2, 2)] and info["target_index"].tolist() == [0, 1, 2]
    perturbations = envs.unwrapped.core.task.perturbations
    assert perturbations.channel.tolist() == [False, True, False]
    for _ in range(60):
        _, _, terminated, truncated, info = envs.step(np.zeros((3, 2), dtype=np.float32))
    assert len(handed_out) > 6  # autoresets asked for the next trials
    latest = {env: trial for env, trial in handed_out}
    for env, trial in latest.items():
        assert perturbations.channel[env] == (trial % 2 == 1)
