"""The ``motorgym`` command: train and evaluate agents.

    motorgym train --env motorgym/CenterOut-v0 --algo lstm-ppo --minutes 10 --num-envs 64 --seed 0 --out runs/co
    motorgym train --resume runs/co --minutes 20          # continue a run exactly where it stopped
    motorgym evaluate runs/co --episodes 200 --json results.json

``train``'s options are generated from :class:`motorgym.train.ppo.PPOConfig`: one option per field,
with the field's docstring as its help.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

ALGOS = {"lstm-ppo": "lstm", "gru-ppo": "gru"}
# Options named for the user rather than after the config field.
RENAMED = {"env_id": "env", "cell": None}  # None: set through --algo


def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under each field of a dataclass (attribute docstrings)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, following in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = following.value.value
    return docs


def add_config_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per dataclass field, typed from its annotation, with its docstring as help."""
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        option = RENAMED.get(f.name, f.name)
        if option is None:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        kwargs: dict[str, Any] = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            "help": f"{docs.get(f.name, '')} (default: {json.dumps(default)})",
        }
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, dict):
            kwargs["type"], kwargs["metavar"] = json.loads, "JSON"
        else:
            kwargs["type"] = type(default)
        parser.add_argument("--" + option.replace("_", "-"), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from motorgym.train.ppo import PPOConfig

    parser = argparse.ArgumentParser(
        prog="motorgym", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a recurrent agent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--algo", choices=sorted(ALGOS), default="lstm-ppo", help="algorithm (default: lstm-ppo)")
    train.add_argument("--out", type=Path, help="run directory to create")
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR exactly")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(train, PPOConfig)

    evaluate = commands.add_parser("evaluate", help="evaluate a run: success and kinematic measures")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--episodes", type=int, default=200, help="episodes to evaluate (default: 200)")
    evaluate.add_argument("--seed", type=int, default=12345, help="seed of the evaluation episodes")
    evaluate.add_argument("--json", type=Path, help="also write the results to this file")
    evaluate.add_argument("--device", default="cpu")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(parser, args)
    from motorgym.train.evaluate import evaluate, format_table

    results = evaluate(args.run_dir, episodes=args.episodes, seed=args.seed, json_path=args.json, device=args.device)
    print(format_table(results))
    print(f"wrote {args.run_dir / 'evaluation.json'}" + (f" and {args.json}" if args.json else ""))
    return 0


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from motorgym.train.ppo import PPOConfig, train

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(PPOConfig) if hasattr(args, f.name)}
    if args.resume is not None:
        budget = {k: overrides.pop(k) for k in ("total_steps", "minutes") if k in overrides}
        if overrides or args.out:
            parser.error("--resume continues a run with its own config: only --total-steps and --minutes may be given")
        result = train(run_dir=args.resume, resume=True, progress=not args.no_progress, **budget)
    else:
        if args.out is None:
            parser.error("--out DIR is required (or --resume DIR)")
        try:
            config = PPOConfig(cell=ALGOS[args.algo], **overrides)
        except (TypeError, ValueError) as error:
            parser.error(str(error))
        if "minutes" in overrides and "total_steps" not in overrides:
            config.total_steps = 10**12  # a wall-clock budget alone
        result = train(config, args.out, progress=not args.no_progress)
    print(f"trained {result.global_step:,} steps in {result.updates} updates; run directory: {result.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
