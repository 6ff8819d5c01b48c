"""Checkpoints: atomic, tensors and JSON only, and clear errors for anything else."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from motorgym.agents.checkpoint import FORMAT, CheckpointError, load_checkpoint, save_checkpoint


class Payload:
    """Unpickling this runs code: a real checkpoint loader must never do it."""

    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {Payload.marker}",))


def test_round_trip_and_no_temporary_files(tmp_path) -> None:
    tensors = {"weights": {"w": torch.arange(6.0).reshape(2, 3)}, "steps": torch.tensor(7)}
    path = save_checkpoint(tmp_path / "run" / "checkpoint.pt", tensors, {"config": {"seed": 3}, "big": 2**100})
    loaded, metadata = load_checkpoint(path)
    assert torch.equal(loaded["weights"]["w"], tensors["weights"]["w"]) and metadata["big"] == 2**100
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt"]
    save_checkpoint(path, {"x": torch.zeros(1)}, {})  # overwrites in place
    assert torch.equal(load_checkpoint(path)[0]["x"], torch.zeros(1))


def test_missing_truncated_and_foreign_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint file at .*nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")
    path = save_checkpoint(tmp_path / "c.pt", {"w": torch.ones(1000)}, {"a": 1})
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"c.pt is not a readable checkpoint \(truncated or corrupt\)"):
        load_checkpoint(path)
    for seed in range(200):  # random bytes break the unpickler in many ways (an IndexError among them)
        (tmp_path / "noise.pt").write_bytes(np.random.default_rng(seed).bytes(2000))
        with pytest.raises(CheckpointError, match="noise.pt is not a readable checkpoint"):
            load_checkpoint(tmp_path / "noise.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=f"other.pt is not a motorgym checkpoint .*{FORMAT}"):
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_pickled_objects_are_refused_and_never_run(tmp_path, writer: str) -> None:
    Payload.marker = str(tmp_path / "EXECUTED")
    path = tmp_path / "evil.pt"
    payload = {"format": FORMAT, "metadata_json": "{}", "tensors": {"x": Payload()}}
    if writer == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    # torch.save's format names the object's class: refused as an object; a raw pickle stream is
    # not even a torch file. Either way the payload's code never runs.
    expected = "holds objects other than tensors.*refusing to unpickle" if writer == "torch" else "is not a readable"
    with pytest.raises(CheckpointError, match=f"evil.pt {expected}"):
        load_checkpoint(path)
    assert not (tmp_path / "EXECUTED").exists()
