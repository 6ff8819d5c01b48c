"""Safe checkpoints: tensors and JSON only, written atomically, read with ``weights_only=True``.

A checkpoint is a ``torch.save`` file holding ``{"format": ..., "metadata_json": str, "tensors":
{...}}`` where ``tensors`` nests dicts, lists, numbers and tensors (state dicts, optimiser states).
It is written to a temporary file in the same folder, flushed to disk, then renamed over the target,
so a crash never leaves a half-written checkpoint. Loading uses ``torch.load(weights_only=True)``,
which refuses arbitrary pickled objects: such a file, a truncated one, or one that is not a
motorgym checkpoint raises :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import torch

FORMAT = "motorgym-checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint file is missing pieces, corrupt, or holds something other than tensors and JSON."""


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) to write a file into; when the block ends
    without error, the file is flushed to disk and renamed over ``path`` (the rename made durable),
    so a crash never leaves a half-written file. On an error the temporary file is removed and an
    OSError names ``path`` (e.g. a full disk). Every file motorgym saves goes through here."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield temporary
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # make the rename itself durable
        finally:
            os.close(directory)
    except OSError as error:
        failure = OSError(f"could not write {path}: {error.strerror or error}")
        failure.errno = error.errno
        raise failure from error
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Write a file through ``write(file)`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        write(file)
    return Path(path)


def save_checkpoint(path: str | Path, tensors: dict[str, Any], metadata: dict[str, Any]) -> Path:
    """Write ``tensors`` (nested containers of tensors and numbers) and JSON ``metadata`` atomically."""
    payload = {"format": FORMAT, "metadata_json": json.dumps(metadata), "tensors": tensors}
    return atomic_write(path, lambda file: torch.save(payload, file))


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`; return (tensors, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), lines[0])
        if "GLOBAL" in reason:  # a reference to code: a pickled object, which is never run here
            raise CheckpointError(
                f"{path} holds objects other than tensors and plain containers; refusing to unpickle it "
                f"(loaded with weights_only=True; {reason})"
            ) from error
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt): {reason}") from error
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt): {error}") from error
    except Exception as error:  # noqa: BLE001  (the weights-only unpickler fails in many ways on garbage; it runs no code)
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt): {type(error).__name__}: {error}"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a motorgym checkpoint (expected format {FORMAT!r})")
    try:
        metadata = json.loads(payload["metadata_json"])
        tensors = payload["tensors"]
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is a damaged motorgym checkpoint: {error}") from error
    return tensors, metadata
