"""Each env's docstring tables (observation, action, reward, episode end, arguments) match the code."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re

import gymnasium as gym
import numpy as np
import pytest

from tests.conftest import ALL_IDS

SECTIONS = ("Observation", "Action", "Reward", "Episode end", "Arguments")


def tables(doc: str) -> dict[str, list[list[str]]]:
    """Rows (cells stripped, header and rule dropped) of the first table under each '## ' heading."""
    result: dict[str, list[list[str]]] = {}
    section = None
    for line in inspect.cleandoc(doc).splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            result[section] = []
        elif section and line.startswith("|"):
            result[section].append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return {name: rows[2:] for name, rows in result.items()}


@pytest.fixture(params=ALL_IDS)
def made(request: pytest.FixtureRequest) -> tuple[str, gym.Env, dict[str, list[list[str]]]]:
    env = gym.make(request.param)
    return request.param, env, tables(type(env.unwrapped).__doc__)


def test_every_table_is_there(made) -> None:
    env_id, _, found = made
    for section in SECTIONS:
        assert found.get(section), f"{env_id}: no '{section}' table"


def test_observation_table(made) -> None:
    _, env, found = made
    rows = found["Observation"]
    assert [int(r[0]) for r in rows] == list(range(env.observation_space.shape[0]))
    assert [r[1] for r in rows] == env.unwrapped.obs_names
    for name, unit in ((r[1], r[2]) for r in rows):  # units in the names agree with the unit column
        suffix = {"_m": "m", "_rad": "rad", "_rad_s": "rad/s", "_lopt": "l_opt", "_lopt_s": "l_opt/s"}
        for ending, expected in sorted(suffix.items(), key=lambda kv: -len(kv[0])):
            if name.endswith(ending):
                assert unit == expected, name
                break


def test_action_table(made) -> None:
    _, env, found = made
    rows = found["Action"]
    assert [int(r[0]) for r in rows] == list(range(env.action_space.shape[0]))
    assert [r[1] for r in rows] == env.unwrapped.action_names
    for row, low, high in zip(rows, env.action_space.low, env.action_space.high, strict=True):
        assert [float(x) for x in row[2].strip("[]").split(",")] == [low, high]
    gears = env.unwrapped.arm.model.actuator_gear[:, 0]
    for row, gear in zip(rows, gears, strict=True):  # the torque scale in the table is the motor's gear
        match = re.search(r"x ([\d.]+) N m", row[3])
        if env.unwrapped.arm.kind == "torque":
            assert match and float(match.group(1)) == gear


def test_reward_table(made) -> None:
    _, env, found = made
    terms = [r[0] for r in found["Reward"]]
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert sorted(terms) == sorted(k for k in info if k.startswith("reward_")) and len(set(terms)) == len(terms)
    for term, meaning in found["Reward"]:  # each row names its term's weight, an argument of the env
        weight = term.removeprefix("reward_") + "_weight"
        assert weight in meaning and hasattr(env.unwrapped.config, weight), term
    assert reward == pytest.approx(sum(info[t] for t in terms))


def test_episode_end_table(made) -> None:
    env_id, env, found = made
    rows = found["Episode end"]
    truncation = [r for r in rows if r[1].startswith("truncated")]
    assert len(truncation) == 1
    assert int(re.match(r"(\d+) steps", truncation[0][0]).group(1)) == gym.spec(env_id).max_episode_steps
    assert any('info["physics_error"]' in r[1] for r in rows)
    assert any('info["success"]' in r[1] for r in rows)


def test_arguments_table(made) -> None:
    _, env, found = made
    documented = {r[0]: r[1] for r in found["Arguments"]}
    config_cls = env.unwrapped.config_cls
    expected = {"render_mode": None, **{f.name: f.default for f in dataclasses.fields(config_cls)}}
    assert list(documented) == list(expected)
    for name, default in expected.items():
        assert ast.literal_eval(documented[name]) == default, name
    # and gym.make accepts each documented argument at its documented default
    gym.make(env.spec.id, **{k: v for k, v in expected.items()})


def test_info_keys_are_documented(made) -> None:
    _, env, _ = made
    doc = type(env.unwrapped).__doc__
    _, info = env.reset(seed=0)
    for key in info:
        assert f"``{key}``" in doc, key
    assert np.isfinite(info["distance_m"])
