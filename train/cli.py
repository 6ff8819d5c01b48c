"""The ``motorgym`` command: train and evaluate agents.

    motorgym train --env motorgym/CenterOut-v0 --algo lstm-ppo --minutes 10 --num-envs 64 --seed 0 --out runs/co
    motorgym train --resume runs/co --minutes 20          # continue a run where it stopped
    motorgym train --env motorgym/CenterOut-v0 --algo sb3-rppo --minutes 10 --out runs/co_rppo
    motorgym evaluate runs/co --episodes 200 --json results.json
    motorgym render runs/co --episodes 8 --out runs/co/reaches.mp4
    motorgym analyze runs/co --out runs/co/figures                       # PCA, jPCA, tuning, kinematics
    motorgym collect --env motorgym/CenterOut-v0 --episodes 2000 --out data/co.npz
    motorgym pretrain --data data/co.npz --out runs/co_pretrained       # a trajectory predictor
    motorgym train --env motorgym/CenterOut-v0 --init-from runs/co_pretrained --out runs/co_init
    motorgym pretrain-policy --data data/co.npz --out runs/co_model_based  # BPTT through a learned arm

``train``'s options are generated from the algorithm's config, one option per field with the
field's docstring as its help: :class:`motorgym.train.ppo.PPOConfig` for lstm-ppo and gru-ppo,
:class:`motorgym.train.baselines.SB3Config` for sb3-rppo and sb3-ppo
(``motorgym train --algo sb3-rppo --help`` lists those).
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

from motorgym.train.runs import OUR_ALGOS, SB3_ALGOS, read_run_config

# Options named for the user rather than after the config field.
RENAMED = {"env_id": "env", "cell": None, "algo": None}  # None: set through --algo


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


def add_config_options(parser: argparse.ArgumentParser, cls: type, renamed: dict[str, str | None] = RENAMED) -> None:
    """One option per dataclass field, typed from its annotation, with its docstring as help
    (``renamed``: fields given another option name, or none)."""
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        option = renamed.get(f.name, f.name)
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


def config_class(algo: str) -> type:
    """The config dataclass of an algorithm of ``--algo``."""
    if algo in SB3_ALGOS:
        from motorgym.train.baselines import SB3Config

        return SB3Config
    from motorgym.train.ppo import PPOConfig

    return PPOConfig


def build_parser(algo: str = "lstm-ppo") -> argparse.ArgumentParser:
    """The parser; ``train``'s config options are those of ``algo``."""
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
    train.add_argument(
        "--algo",
        choices=[*OUR_ALGOS, *SB3_ALGOS],
        default="lstm-ppo",
        help="algorithm: ours (lstm-ppo, gru-ppo) or the SB3 baselines, sb3-contrib RecurrentPPO (sb3-rppo) "
        "and SB3 PPO (sb3-ppo) (default: lstm-ppo; the options below are those of "
        f"{algo})",
    )
    train.add_argument("--out", type=Path, help="run directory to create")
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR exactly")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(train, config_class(algo))

    evaluate = commands.add_parser("evaluate", help="evaluate a run: success and kinematic measures")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--episodes", type=int, default=200, help="episodes to evaluate (default: 200)")
    evaluate.add_argument("--seed", type=int, default=12345, help="seed of the evaluation episodes")
    evaluate.add_argument("--json", type=Path, help="also write the results to this file")
    evaluate.add_argument("--device", default="cpu")

    from motorgym.train import render

    render_parser = commands.add_parser(
        "render",
        help="render a run's (or the scripted controller's) episodes to a video",
        description=render.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_arguments(render_parser)

    analyze = commands.add_parser("analyze", help="figures and analyses of a run: kinematics, PCA, jPCA, tuning")
    analyze.add_argument("run_dir", type=Path)
    analyze.add_argument("--out", type=Path, help="figure directory (default: RUN_DIR/figures)")
    analyze.add_argument("--episodes", type=int, default=200, help="centre-out trials to roll out (default: 200)")
    analyze.add_argument("--seed", type=int, default=2024)
    analyze.add_argument("--device", default="cpu")

    collect = commands.add_parser("collect", help="collect rollouts under exploratory commands (for pretraining)")
    collect.add_argument("--env", default="motorgym/CenterOut-v0", help="a motorgym env id")
    collect.add_argument("--episodes", type=int, required=True, help="number of episodes")
    collect.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    collect.add_argument("--seed", type=int, default=0)
    collect.add_argument("--env-kwargs", type=json.loads, default={}, metavar="JSON", help="env keyword arguments")
    collect.add_argument("--ou-tau-ms", type=float, default=200.0, help="correlation time of the OU commands, ms")
    collect.add_argument("--ou-sigma", type=float, default=0.5, help="stationary std of the OU commands (range: 1)")
    collect.add_argument(
        "--scripted-fraction", type=float, default=0.0, help="fraction of episodes driven by the scripted reacher"
    )

    from motorgym.train.pretrain import PretrainConfig

    pretrain = commands.add_parser(
        "pretrain", help="train a trajectory predictor on collected rollouts (pretraining for --init-from)"
    )
    pretrain.add_argument("--out", type=Path, required=True, help="run directory to create")
    pretrain.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(pretrain, PretrainConfig, renamed={})

    from motorgym.train import model_based

    pretrain_policy = commands.add_parser(
        "pretrain-policy",
        help="learn the arm from collected rollouts, then train a policy through it (pretraining for --init-from)",
        description=model_based.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pretrain_policy.add_argument("--out", type=Path, required=True, help="run directory to create")
    pretrain_policy.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(pretrain_policy, model_based.ModelBasedConfig, renamed={})
    return parser


def _chosen_algo(argv: list[str]) -> str:
    """The algorithm a ``train`` command line asks for (--algo, or the resumed run's), to pick its options."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--algo", default="lstm-ppo")
    pre.add_argument("--resume", type=Path)
    known, _ = pre.parse_known_args(argv[1:])
    if known.resume is not None:
        try:
            return read_run_config(known.resume)["algo"]
        except (OSError, ValueError):
            return "lstm-ppo"  # our PPO's checkpoint holds its config: train() reports what is wrong
    return known.algo if known.algo in (*OUR_ALGOS, *SB3_ALGOS) else "lstm-ppo"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    algo = _chosen_algo(argv) if argv[:1] == ["train"] else "lstm-ppo"
    parser = build_parser(algo)
    args = parser.parse_args(argv)
    try:
        return _run(parser, args, algo)
    except (OSError, ValueError) as error:  # bad files and mismatches (CheckpointError, DatasetError): no traceback
        parser.exit(1, f"motorgym {args.command}: error: {error}\n")


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, algo: str) -> int:
    if args.command == "train":
        return _train(parser, args, algo)
    if args.command == "collect":
        return _collect(parser, args)
    if args.command in ("pretrain", "pretrain-policy"):
        return _pretrain(parser, args)
    if args.command == "analyze":
        from motorgym.train.analyze import analyze

        out = args.out or args.run_dir / "figures"
        result = analyze(args.run_dir, out, args.episodes, args.seed, args.device)
        shown = {k: result[k] for k in ("jpca_r2_skew", "jpca_r2_unconstrained", "jpca_ratio") if k in result}
        tuned = result.get("tuning", {}).get("tuned_fraction")
        print(f"{result['aligned_reaches']} aligned reaches; {json.dumps(shown)}; tuned fraction {tuned}")
        print(f"wrote the figures and analysis.json in {out}")
        return 0
    if args.command == "render":
        from motorgym.train import render

        return render.run(parser, args)
    from motorgym.train.evaluate import evaluate, format_table

    results = evaluate(args.run_dir, episodes=args.episodes, seed=args.seed, json_path=args.json, device=args.device)
    print(format_table(results))
    print(f"wrote {args.run_dir / 'evaluation.json'}" + (f" and {args.json}" if args.json else ""))
    return 0


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace, algo: str) -> int:
    if algo in SB3_ALGOS:
        from motorgym.train.baselines import train
    else:
        from motorgym.train.ppo import train
    cls = config_class(algo)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if hasattr(args, f.name) and RENAMED.get(f.name, f.name) is not None
    }
    if args.resume is not None:
        budget = {k: overrides.pop(k) for k in ("total_steps", "minutes") if k in overrides}
        if overrides or args.out:
            parser.error("--resume continues a run with its own config: only --total-steps and --minutes may be given")
        result = train(run_dir=args.resume, resume=True, progress=not args.no_progress, **budget)
    else:
        if args.out is None:
            parser.error("--out DIR is required (or --resume DIR)")
        algo_field = {"algo": algo} if algo in SB3_ALGOS else {"cell": OUR_ALGOS[algo]}
        try:
            config = cls(**algo_field, **overrides)
        except (TypeError, ValueError) as error:
            parser.error(str(error))
        if "minutes" in overrides and "total_steps" not in overrides:
            config.total_steps = 10**12  # a wall-clock budget alone
        result = train(config, args.out, progress=not args.no_progress)
    print(f"trained {result.global_step:,} steps in {result.updates} updates; run directory: {result.run_dir}")
    return 0


def _collect(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from motorgym.train.collect import collect, save_dataset

    if args.out.suffix != ".npz":
        parser.error(f"--out must end in .npz (got {args.out.name!r})")
    try:
        data = collect(
            args.env, args.episodes, args.seed, args.env_kwargs, args.ou_tau_ms, args.ou_sigma, args.scripted_fraction
        )
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    save_dataset(data, args.out)
    print(f"wrote {args.out}: {len(data)} episodes, {int(data.lengths.sum()):,} steps of {args.env}")
    return 0


def _pretrain(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from motorgym.train import model_based, pretrain

    cls = pretrain.PretrainConfig if args.command == "pretrain" else model_based.ModelBasedConfig
    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    if not options.get("data"):
        parser.error("--data FILE.npz is required")
    try:
        config = cls(**options)
    except ValueError as error:
        parser.error(str(error))
    if args.command == "pretrain-policy":
        summary = model_based.pretrain_policy(config, args.out, progress=not args.no_progress)
        arm = summary["arm"]
        print(
            f"learned arm: hand error {arm['arm_hand_rmse_mm']:.1f} mm after {config.arm_unroll_steps} open-loop "
            f"steps (arm kept still: {arm['still_hand_rmse_mm']:.1f} mm); the policy trained through it succeeds "
            f"in {summary['real_success']:.0%} of MuJoCo trials; wrote {args.out / model_based.POLICY_NAME}"
        )
        return 0
    result = pretrain.pretrain(config, args.out, progress=not args.no_progress)
    best, baseline = result["best"], result["baseline"]
    print(
        f"best epoch {best['epoch']}: validation hand position error {best['position_rmse_mm']:.1f} mm "
        f"(constant-velocity extrapolation: {baseline['position_rmse_mm']:.1f} mm); "
        f"wrote {args.out / 'predictor.pt'} and {args.out / 'losses.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
