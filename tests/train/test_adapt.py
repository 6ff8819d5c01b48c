"""motorgym adapt: protocols, the trial schedule, the run directory, learning only where asked, resume."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from motorgym.agents.checkpoint import load_checkpoint
from motorgym.envs.tasks.center_out import CenterOutV1Config
from motorgym.train import adapt, ppo
from motorgym.train import protocol as protocols
from motorgym.train.cli import main

TINY_PROTOCOL = {
    "name": "tiny-curl",
    "measured_field": {"force_field": "curl_cw", "force_field_gain_n_s_m": 15.0},
    "channel_fraction": 0.25,
    "blocks": [
        {"name": "baseline", "trials": 6, "learn": False},
        {"name": "exposure", "trials": 12, "perturbation": {"force_field": "curl_cw"}},
        {
            "name": "washout",
            "trials": 6,
            "perturbation": {
                "load_pulse_force_n": [0.0, 3.0],
                "load_pulse_onset_ms": 50.0,
                "load_pulse_duration_ms": 30.0,
            },
        },
    ],
    "learning": {"rule": "ppo", "learning_rate": 1e-3, "num_envs": 4, "rollout_steps": 32, "update_epochs": 1},
}


def write_protocol(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def read_trials(run: Path) -> list[dict[str, str]]:
    with open(run / "trials.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_the_shipped_protocols_load() -> None:
    shipped = protocols.shipped_protocols()
    assert {"curl-field", "visuomotor-rotation", "load-pulse"} <= set(shipped)
    curl = protocols.load_protocol("curl-field")
    assert [b.name for b in curl.blocks] == ["baseline", "exposure", "washout", "re-exposure"]
    assert curl.field_matrix().tolist() == [[0.0, 15.0], [-15.0, 0.0]]
    rotation = protocols.load_protocol("visuomotor-rotation")
    assert rotation.blocks[1].perturbation == {"visual_rotation_deg": 30.0}


def test_the_benchmark_protocols_are_the_shipped_ones_with_a_long_washout() -> None:
    """benchmarks/protocols: the curl-field protocols with only the washout changed (savings)."""
    folder = Path(__file__).parents[2] / "benchmarks" / "protocols"
    for shipped_name, file in (
        ("curl-field", "curl_field_long_washout.yaml"),
        ("curl-field-learned-arm", "curl_field_learned_arm_long_washout.yaml"),
    ):
        shipped, long = protocols.load_protocol(shipped_name), protocols.load_protocol(str(folder / file))
        assert [b.trials for b in long.blocks] == [160, 800, 1280, 800]
        assert [b for b in long.blocks if b.name != "washout"] == [b for b in shipped.blocks if b.name != "washout"]
        assert long.learning == shipped.learning and long.channel_fraction == shipped.channel_fraction
        assert long.field_matrix().tolist() == shipped.field_matrix().tolist()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"blocks": []}, "blocks must be a non-empty list"),
        ({"blokcs": []}, r"unknown key\(s\) \['blokcs'\]"),
        ({"blocks": [{"name": "a", "trials": 0}]}, r"blocks\[0\]: trials must be an int >= 1"),
        (
            {"blocks": [{"name": "a", "trials": 5, "perturbation": {"field": "curl_cw"}}]},
            r"unknown key\(s\) \['field'\]",
        ),
        ({"measured_field": {"force_field": "spiral"}}, "force_field must be one of"),
        ({"learning": {"rule": "sgd"}}, r"learning.rule must be one of \['ppo', 'learned-arm'\]"),
        ({"channel_fraction": 2}, r"channel_fraction must be in \[0, 1\]"),
        ({"learning": {"arm_model": "linear"}}, r"learning.arm_model must be one of \['mlp', 'known-activation'"),
        ({"learning": {"path_error_weight": -1.0}}, r"learning.path_error_weight must be a finite number >= 0"),
        ({"learning": {"path_error_weight": float("nan")}}, r"learning.path_error_weight must be a finite number >= 0"),
        ({"learning": {"path_error_weight": 100.0}}, r"path_error_weight is a cost term of the learned-arm rule"),
    ],
)
def test_a_bad_protocol_is_named(tmp_path: Path, change: dict, message: str) -> None:
    path = write_protocol(tmp_path / "p.yaml", {**TINY_PROTOCOL, **change})
    with pytest.raises(ValueError, match=message):
        protocols.load_protocol(str(path))
    with pytest.raises(ValueError, match="protocol must be one of"):
        protocols.load_protocol("no-such-protocol")


def test_channel_trials_are_placed_at_the_fraction_never_first() -> None:
    protocol = protocols.protocol_from_dict(TINY_PROTOCOL, "tiny")
    trials = protocols.plan_trials(protocol, seed=0)
    assert [t.trial for t in trials] == list(range(24))
    for block, size in enumerate((6, 12, 6)):
        in_block = [t for t in trials if t.block == block]
        assert len(in_block) == size and sum(t.channel for t in in_block) == round(0.25 * size)
        assert not in_block[0].channel
    assert all(t.options["force_field"] == "curl_cw" for t in trials if t.block == 1)
    assert trials == protocols.plan_trials(protocol, seed=0)


def test_an_adapt_run_records_every_trial_and_learns_only_where_asked(source_run: Path, tmp_path: Path) -> None:
    protocol = write_protocol(tmp_path / "tiny.yaml", TINY_PROTOCOL)
    out = tmp_path / "adapt"
    assert main(["adapt", str(source_run), "--protocol", str(protocol), "--out", str(out), "--no-progress"]) == 0
    assert {"config.json", "trials.csv", "paths.npz", "adapt.pt", "adapt.json", "adaptation.png", "paths.png"} <= {
        p.name for p in out.iterdir()
    }
    rows = read_trials(out)
    assert sorted(int(r["trial"]) for r in rows) == list(range(24))
    by_trial = {int(r["trial"]): r for r in rows}
    assert [by_trial[t]["block"] for t in range(24)] == ["baseline"] * 6 + ["exposure"] * 12 + ["washout"] * 6
    assert [by_trial[t]["force_field"] for t in (0, 6, 17, 18)] == ["null", "curl_cw", "curl_cw", "null"]
    assert sum(r["channel"] == "True" for r in rows) == 2 + 3 + 2
    # Pulse measures exactly in the washout's pulsed reaching trials.
    pulsed = [r for r in rows if r["block"] == "washout" and r["channel"] == "False"]
    assert all(float(r["pulse_displacement_mm"]) > 0 for r in pulsed)
    assert all(r["pulse_displacement_mm"] == "" for r in rows if r["block"] != "washout")
    summary = json.loads((out / "adapt.json").read_text())
    assert summary["updates"] > 0 and set(summary["blocks"]) == {"baseline", "exposure", "washout"}
    with open(out / "updates.csv", newline="") as file:
        logged = list(csv.DictReader(file))
    assert len(logged) == summary["updates"] and {"policy_loss", "approx_kl"} <= set(logged[0])
    # The network changed (it learned in exposure and washout), and the run's agent is the adapted one.
    adapted = load_checkpoint(out / "adapt.pt")[0]["policy"]
    trained = load_checkpoint(source_run / "checkpoint.pt")[0]["policy"]
    assert any(not torch.equal(adapted[k], trained[k]) for k in trained)
    assert main(["evaluate", str(out), "--episodes", "4"]) == 0
    # It never writes into an existing run.
    assert main_fails(["adapt", str(source_run), "--protocol", str(protocol), "--out", str(out)])


def test_without_learning_the_network_is_unchanged(source_run: Path, tmp_path: Path) -> None:
    still = {**TINY_PROTOCOL, "blocks": [{**b, "learn": False} for b in TINY_PROTOCOL["blocks"]]}
    out = adapt.adapt(source_run, str(write_protocol(tmp_path / "p.yaml", still)), tmp_path / "a", progress=False)
    adapted = load_checkpoint(out / "adapt.pt")[0]["policy"]
    trained = load_checkpoint(source_run / "checkpoint.pt")[0]["policy"]
    assert all(torch.equal(adapted[k], trained[k]) for k in trained)
    assert json.loads((out / "adapt.json").read_text())["updates"] == 0


def adapt_killed_at_update(source_run: Path, protocol: Path, out: Path, update: int, monkeypatch) -> None:
    """Start an adapt run and interrupt it (KeyboardInterrupt) as its PPO update ``update`` begins."""
    original, calls = ppo.update, []

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == update:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ppo, "update", killed)
        with pytest.raises(KeyboardInterrupt):
            adapt.adapt(source_run, str(protocol), out, progress=False)


def test_a_killed_adapt_run_resumes_and_records_each_trial_once(source_run: Path, tmp_path: Path, monkeypatch) -> None:
    protocol = write_protocol(tmp_path / "tiny.yaml", TINY_PROTOCOL)
    out = tmp_path / "adapt"
    adapt_killed_at_update(source_run, protocol, out, 4, monkeypatch)
    done_before = len(read_trials(out))
    assert 0 < done_before < 24
    # The paths so far are in chunks, each trial's in one only.
    assert not (out / "paths.npz").exists()
    chunked = [set(np.load(chunk).files) for chunk in sorted((out / "paths_so_far").glob("*.npz"))]
    assert chunked and sum(map(len, chunked)) == len(set().union(*chunked))
    # What can be measured of the unfinished run is, and the rest is named.
    assert main(["analyze", str(out)]) == 0
    partial = json.loads((out / "figures" / "adapt.json").read_text())
    assert partial["trials"] == done_before and "have not run" in partial["missing"]
    assert (out / "figures" / "adaptation.png").stat().st_size > 0
    assert main(["adapt", "--resume", str(out), "--no-progress"]) == 0
    rows = read_trials(out)
    assert sorted(int(r["trial"]) for r in rows) == list(range(24))
    with open(out / "updates.csv", newline="") as file:  # each update logged once
        assert [int(r["update"]) for r in csv.DictReader(file)] == list(range(1, updates_of(out) + 1))
    # At the end every trial's path is in paths.npz, and the chunks are gone.
    assert sorted(
        int(name.split("_")[1]) for name in np.load(out / "paths.npz").files if name.startswith("hand")
    ) == list(range(24))
    assert not (out / "paths_so_far").exists()


def updates_of(run: Path) -> int:
    return json.loads((run / "adapt.json").read_text())["updates"]


def test_a_failing_start_leaves_nothing(tmp_path: Path) -> None:
    not_a_run = tmp_path / "nothing"
    not_a_run.mkdir()
    assert main_fails(["adapt", str(not_a_run), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def main_fails(argv: list[str]) -> bool:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code == 1


def test_a_trial_is_measured_over_its_movement() -> None:
    protocol = protocols.protocol_from_dict(TINY_PROTOCOL, "tiny")
    start, target = np.array([0.0, 0.4]), np.array([0.1, 0.4])  # rightward: clockwise pushes right (-y)
    steps = 60
    s = np.clip((np.arange(steps) - 10) / 40, 0, 1)  # still for 10 steps (the delay), then 40 to the target
    hand = start + np.outer(s, target - start)
    hand[:, 1] -= 0.006 * np.sin(np.pi * s)  # bowed 6 mm to the right on the way
    hand[55:, 1] += 0.02  # a wiggle after the target was reached: not part of the movement
    trace = {
        "hand_pos": hand,
        "cursor_pos": hand,
        "channel_force_n": np.zeros(steps),
        "go_cue": np.arange(steps) >= 10,
    }
    final = {"success": True, "false_start": False, "target_index": 0, "target_pos": target}
    row = adapt.trial_measures(protocol, trace, final, step_ms=10.0, target_radius_m=0.015)
    assert row["max_perpendicular_deviation_mm"] == pytest.approx(6.0, abs=0.1)  # + : the field's way
    assert math.isnan(row["adaptation_index"])  # not a channel trial
    assert abs(row["initial_direction_error_deg"]) < 5
    catch = adapt.trial_measures(protocol, {**trace, "go_cue": np.zeros(steps, bool)}, final, 10.0, 0.015)
    assert all(math.isnan(catch[k]) for k in adapt.MEASURED)


def test_a_pulse_is_found_and_its_response_measured() -> None:
    task = CenterOutV1Config()
    go_cue = np.arange(80) >= 30
    options = {"load_pulse_force_n": (0.0, 4.0), "load_pulse_onset_ms": 100.0, "load_pulse_duration_ms": 50.0}
    assert adapt.pulse_onset(task, options, go_cue) == 40  # go cue at 30, 10 steps later
    assert adapt.pulse_onset(task, {**options, "load_pulse_reference": "trial_start"}, go_cue) == 10
    assert adapt.pulse_onset(task, {}, go_cue) is None  # the env's own arguments have no pulse
    assert adapt.pulse_onset(task, options, np.zeros(80, bool)) is None  # a catch trial
    hand = np.tile([0.0, 0.4], (81, 1))
    hand[40:60, 1] += 0.003 * np.sin(np.linspace(0, np.pi, 20))  # pushed 3 mm and brought back
    rng = np.random.default_rng(0)
    commands = 0.01 * rng.normal(size=(80, 2))
    commands[46:] += [0.4, -0.3]  # the correction, 6 steps (60 ms) after the onset
    row = adapt.pulse_measures({"hand_pos": hand, "command": commands}, 40, step_ms=10.0)
    assert row["pulse_displacement_mm"] == pytest.approx(3.0, rel=0.02)
    assert row["pulse_latency_ms"] == 60.0
