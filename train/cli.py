"""The ``motorgym`` command: train, evaluate, render and analyse runs; collect data and pretrain.

Every command that makes a run takes a new directory (``--out``) and refuses an existing run; every
command that reads one takes its directory, of any kind (:mod:`motorgym.train.kinds`). Errors are
one line, ``motorgym COMMAND: error: ...``, with exit code 1 (2 for a bad command line).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import torch

from motorgym.train import adapt as adapt_module
from motorgym.train import kinds, model_based, pretrain, render, sweep
from motorgym.train.analyze import analyze
from motorgym.train.collect import check_new_dataset_path, collect, save_dataset
from motorgym.train.configs import ModelBasedConfig, PretrainConfig, RunConfig
from motorgym.train.evaluate import evaluate, format_table
from motorgym.train.run_dir import ADAPT_SUMMARY, EVALUATION, FIGURES
from motorgym.train.trainers import TRAINERS

DESCRIPTION = """\
Train recurrent networks to move a MuJoCo arm, evaluate them with the field's measures, render
their reaches and analyse their hidden states.

examples:
  motorgym train --env motorgym/CenterOut-v0 --minutes 10 --out runs/co         # lstm-ppo
  motorgym train --resume runs/co --minutes 20                                  # continue it
  motorgym evaluate runs/co --episodes 200
  motorgym render runs/co --episodes 8 --grid --out runs/co/reaches.mp4
  motorgym analyze runs/co                                                      # PCA, jPCA, tuning
  motorgym collect --env motorgym/CenterOut-v0 --episodes 2000 --out data/co.npz
  motorgym pretrain --data data/co.npz --out runs/co_predictor                  # trajectory predictor
  motorgym pretrain-policy --data data/co.npz --out runs/co_model_based         # through a learned arm
  motorgym train --init-from runs/co_model_based --out runs/co_finetuned
  motorgym adapt runs/co --protocol curl-field --out runs/co_curl                # force-field adaptation

'motorgym COMMAND --help' lists a command's options.
"""

TRAIN_DESCRIPTION = """\
Train an agent on a motorgym task into a new run directory (--out), or continue one (--resume).
The options below are the fields of the chosen algorithm's config ({config}); 'motorgym train
--algo ALGO --help' lists another's. --minutes alone sets a time budget only (total_steps 0);
with --total-steps too, the run stops at whichever comes first.
"""


class UsageError(ValueError):
    """A command line that asks for something impossible (exit code 2, as argparse's own errors)."""


#: The module (its docstring is the command's help) of each pretraining command's config class.
PRETRAININGS = {PretrainConfig: pretrain, ModelBasedConfig: model_based}
#: Options named for the user rather than after the config field.
RENAMED = {"env_id": "env"}
BUDGET = ("total_steps", "minutes")
#: Commands that run networks without a config's torch_threads: one torch thread, since torch's
#: threads spin while MuJoCo steps the arm and against any other process (collecting 40 episodes
#: with a policy, two such commands at once on 2 cores: 25 s each with torch's default threads, 6 s
#: with one; alone 5.6 s and 5.9 s).
INFERENCE_COMMANDS = ("evaluate", "render", "analyze", "collect")


def plain_text(doc: str) -> str:
    """A docstring without reStructuredText markup, for --help: ``x`` -> x, :role:`~a.b` -> b."""
    doc = re.sub(
        r":\w+:`~?([^`]*?)`", lambda m: m.group(1).rsplit(".", 1)[-1] if "~" in m.group(0) else m.group(1), doc
    )
    return doc.replace("``", "").replace("**", "")


def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under each field of a dataclass and of its dataclass bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body  # type: ignore[attr-defined]
        for node, following in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def add_config_options(parser: argparse.ArgumentParser, cls: type, fixed: tuple[str, ...] = ()) -> None:
    """One option per dataclass field (except the ``fixed`` ones), typed from its default, with its
    docstring as help."""
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in fixed:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        kwargs: dict[str, Any] = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            "help": f"{plain_text(docs.get(f.name, ''))} (default: {json.dumps(default)})",
        }
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, dict):
            kwargs["type"], kwargs["metavar"] = json.loads, "JSON"
        elif isinstance(default, list):
            kwargs["type"], kwargs["nargs"] = str, "+"
        else:
            kwargs["type"] = type(default)
        parser.add_argument("--" + RENAMED.get(f.name, f.name).replace("_", "-"), **kwargs)


# ------------------------------------------------------------------------------------------ parser
def build_parser(train_kind: kinds.RunKind = kinds.KINDS["lstm-ppo"]) -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    """The parser and its subparsers by command; ``train``'s config options are ``train_kind``'s."""
    parser = argparse.ArgumentParser(
        prog="motorgym", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str | None = None) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=plain_text(description or summary),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    subparsers = {
        "train": _train_options(command("train", "train an agent (ours or an SB3 baseline)", ""), train_kind),
        "evaluate": _evaluate_options(
            command("evaluate", "evaluate a run: success and the field's kinematic measures")
        ),
        "render": command(
            "render", "render a run's (or the scripted controller's) episodes to a video", render.__doc__
        ),
        "analyze": _analyze_options(
            command("analyze", "figures and analyses of a run: kinematics, PCA, jPCA, tuning; an adapt run's measures")
        ),
        "collect": _collect_options(
            command("collect", "collect rollouts under exploratory commands (for pretraining)")
        ),
        "sweep": _sweep_options(command("sweep", "many runs over seeds and conditions, on Ray Tune", sweep.__doc__)),
        "adapt": _adapt_options(
            command("adapt", "a motor-learning protocol (force field, rotation) on a trained run", adapt_module.__doc__)
        ),
    }
    render.add_arguments(subparsers["render"])
    for kind in (k for k in kinds.KINDS.values() if k.config_cls in PRETRAININGS):
        sub = command(
            kind.command, f"pretraining for --init-from: {kind.summary}", PRETRAININGS[kind.config_cls].__doc__
        )
        sub.add_argument("--out", type=Path, required=True, help="the run directory to create (new or empty)")
        sub.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_config_options(sub, kind.config_cls)
        subparsers[kind.command] = sub
    return parser, subparsers


def _train_options(parser: argparse.ArgumentParser, kind: kinds.RunKind) -> argparse.ArgumentParser:
    parser.description = TRAIN_DESCRIPTION.format(config=kind.config_cls.__name__)
    algos = kinds.kinds_made_by("train")
    parser.add_argument(
        "--algo",
        choices=[k.name for k in algos],
        default="lstm-ppo",
        help="; ".join(f"{k.name}: {k.summary}" for k in algos) + " (default: lstm-ppo)",
    )
    parser.add_argument("--out", type=Path, help="the run directory to create (new or empty)")
    parser.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR where it stopped")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(parser, kind.config_cls, fixed=tuple(kind.fixed))
    return parser


def _evaluate_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", type=Path, help="a run directory (any kind with an agent)")
    parser.add_argument("--episodes", type=int, default=200, help="episodes to evaluate (default: 200)")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the evaluation episodes (default: 12345)")
    parser.add_argument("--json", type=Path, help=f"also write the results to this file (always: RUN_DIR/{EVALUATION})")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda[:N] (default: cpu)")
    return parser


def _analyze_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "run_dir", type=Path, help="a run directory of a centre-out task (any kind with an agent), or an adapt run"
    )
    parser.add_argument("--out", type=Path, help=f"figure directory (default: RUN_DIR/{FIGURES})")
    parser.add_argument("--episodes", type=int, default=200, help="centre-out trials to roll out (default: 200)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the trials (default: 2024)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda[:N] (default: cpu)")
    return parser


def _sweep_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("spec", type=Path, help="the sweep's spec (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="the sweep's directory (new, or this sweep's: resumes)")
    parser.add_argument(
        "--address", help="a running Ray cluster (e.g. auto, or ray://HOST:10001; default: RAY_ADDRESS, else local)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")
    return parser


def _adapt_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "run_dir",
        type=Path,
        nargs="?",
        help="the trained run (lstm-ppo or gru-ppo; model-based for learned-arm protocols)",
    )
    shipped = ", ".join(adapt_module.shipped_protocols())
    parser.add_argument(
        "--protocol", default="curl-field", help=f"{shipped}, or a protocol YAML file (default: curl-field)"
    )
    parser.add_argument("--out", type=Path, help="the adapt run's directory to create (new or empty)")
    parser.add_argument("--resume", type=Path, metavar="DIR", help="continue the adapt run in DIR")
    parser.add_argument("--seed", type=int, default=0, help="seed of the trials and the learning (default: 0)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda[:N] (default: cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _collect_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--env", default="motorgym/CenterOut-v0", help="a motorgym env id (default: CenterOut-v0)")
    parser.add_argument("--episodes", type=int, required=True, help="number of episodes")
    parser.add_argument("--out", type=Path, required=True, help="the .npz file to write (a new file)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the episodes and commands (default: 0)")
    parser.add_argument("--env-kwargs", type=json.loads, default={}, metavar="JSON", help="env keyword arguments")
    parser.add_argument("--ou-tau-ms", type=float, default=200.0, help="correlation time of the OU commands, ms")
    parser.add_argument("--ou-sigma", type=float, default=0.5, help="stationary std of the OU commands (range: 1)")
    parser.add_argument(
        "--scripted-fraction", type=float, default=0.0, help="fraction of episodes driven by the scripted reacher"
    )
    parser.add_argument(
        "--policy", type=Path, metavar="RUN_DIR", help="a run of the same env whose policy drives some episodes"
    )
    parser.add_argument(
        "--policy-fraction",
        type=float,
        default=0.0,
        help="fraction of episodes driven by --policy (deterministic, with the OU commands on top)",
    )
    return parser


# -------------------------------------------------------------------------------------------- main
def _train_kind(argv: list[str]) -> kinds.RunKind:
    """The run kind a ``train`` command line asks for (--algo, or the resumed run's), to pick its options."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--algo", default="lstm-ppo")
    pre.add_argument("--resume", type=Path)
    known, _ = pre.parse_known_args(argv[1:])
    if known.resume is not None:
        try:
            return kinds.kind_of(known.resume)
        except (OSError, ValueError):
            pass  # _train names what is wrong with the run
    return kinds.KINDS.get(known.algo, kinds.KINDS["lstm-ppo"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, subparsers = build_parser(_train_kind(argv) if argv[:1] == ["train"] else kinds.KINDS["lstm-ppo"])
    args = parser.parse_args(argv)
    handlers = {
        "train": _train,
        "evaluate": _evaluate,
        "render": render.run,
        "analyze": _analyze,
        "collect": _collect,
        "pretrain": _pretrain,
        "pretrain-policy": _pretrain_policy,
        "sweep": _sweep,
        "adapt": _adapt,
    }
    own = subparsers[args.command]
    if args.command in INFERENCE_COMMANDS:
        torch.set_num_threads(1)
    try:
        return handlers[args.command](own, args)
    except (OSError, ValueError) as error:  # bad input, files and mismatches: one line, no traceback
        message = " ".join(str(error).split())
        own.exit(2 if isinstance(error, UsageError) else 1, f"{own.prog}: error: {message}\n")
    except KeyboardInterrupt:
        own.exit(130, f"{own.prog}: interrupted (a training run continues with motorgym train --resume)\n")


def _config_fields(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    # Config options have no default in the namespace (argparse.SUPPRESS): what is there was given.
    options = {k: v for k, v in vars(args).items() if k not in ("command", "algo", "out", "resume", "no_progress")}
    if "minutes" in options and "total_steps" not in options:
        options["total_steps"] = 0  # a time budget alone
    if args.resume is not None:
        budget = {k: options.pop(k) for k in BUDGET if k in options}
        if options or args.out:
            raise UsageError(
                "--resume continues a run with its own config: only --total-steps and --minutes may be given"
            )
        kind = kinds.kind_of(args.resume)
        if not kind.resumable:
            resumable = ", ".join(k.name for k in kinds.KINDS.values() if k.resumable)
            raise UsageError(f"{args.resume} is a {kind.name} run: --resume continues runs of {resumable}")
        result = TRAINERS[kind.config_cls](run_dir=args.resume, resume=True, progress=not args.no_progress, **budget)
    else:
        if args.out is None:
            raise UsageError("--out DIR is required (or --resume DIR)")
        kind = kinds.KINDS[args.algo]
        config = kind.config_cls(**kind.fixed, **options)
        result = TRAINERS[kind.config_cls](config, args.out, progress=not args.no_progress)
    if not result.metrics:
        print(
            f"{result.run_dir} has used up its budget ({result.global_step:,} steps): nothing to train; "
            "give a larger --total-steps or --minutes to continue"
        )
        return 0
    print(f"trained {result.global_step:,} steps in {result.updates} updates; run directory: {result.run_dir}")
    return 0


def _evaluate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    RunConfig(device=args.device).torch_device()
    results = evaluate(args.run_dir, episodes=args.episodes, seed=args.seed, json_path=args.json, device=args.device)
    print(format_table(results))
    print(f"wrote {args.run_dir / EVALUATION}" + (f" and {args.json}" if args.json else ""))
    return 0


def _analyze(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    RunConfig(device=args.device).torch_device()
    out = args.out or args.run_dir / FIGURES
    kind = kinds.kind_of(args.run_dir)
    if kind.report is not None:  # e.g. an adapt run: its own measures and figures
        summary = kind.report(args.run_dir, out)
        if "missing" in summary:
            print(f"note: {summary['missing']}; the summary and figures are of the trials that ran")
        print(f"wrote the figures and {ADAPT_SUMMARY} in {out}")
        return 0
    result = analyze(args.run_dir, out, args.episodes, args.seed, args.device)
    if "note" in result:
        print(f"note: {result['note']}")
    jpca = (
        "-" if result["jpca_ratio"] is None else f"{result['jpca_r2_skew']:.2f} / {result['jpca_r2_unconstrained']:.2f}"
    )
    tuned = "-" if result["tuning"] is None else f"{result['tuning']['tuned_fraction']:.0%}"
    print(f"{result['aligned_reaches']} aligned reaches; jPCA R2 skew / unconstrained {jpca}; tuned fraction {tuned}")
    print(f"wrote the figures and analysis.json in {out}")
    return 0


def _collect(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    out = check_new_dataset_path(args.out)
    policy = None
    if args.policy is not None:
        loaded = kinds.load_agent(args.policy)
        if loaded.env_id != args.env:
            parser.error(f"--policy {args.policy} acts on {loaded.env_id}, not on --env {args.env}")
        policy = loaded.agent
    data = collect(
        args.env,
        args.episodes,
        seed=args.seed,
        env_kwargs=args.env_kwargs,
        ou_tau_ms=args.ou_tau_ms,
        ou_sigma=args.ou_sigma,
        scripted_fraction=args.scripted_fraction,
        policy=policy,
        policy_fraction=args.policy_fraction,
        policy_name=str(args.policy) if args.policy is not None else "",
    )
    save_dataset(data, out)
    print(f"wrote {out}: {len(data)} episodes, {int(data.lengths.sum()):,} steps of {args.env}")
    return 0


def _sweep(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    spec = sweep.SweepSpec.load(args.spec)
    rows = sweep.sweep(spec, args.out, address=args.address, progress=not args.no_progress)
    failed = [row["trial"] for row in rows if row["error"]]
    print(f"{len(rows) - len(failed)} of {len(rows)} trials finished; results in {args.out / sweep.RESULTS_MD}")
    if failed:
        print(f"failed or unfinished: {', '.join(failed)} (run the same command again to resume)")
    return 0


def _adapt(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.resume is not None:
        run_dir = adapt_module.resume(args.resume, progress=not args.no_progress)
    elif args.run_dir is None or args.out is None:
        raise UsageError("give a trained RUN_DIR and --out DIR (or --resume DIR)")
    else:
        run_dir = adapt_module.adapt(
            args.run_dir, args.protocol, args.out, args.seed, args.device, progress=not args.no_progress
        )
    summary = json.loads((run_dir / ADAPT_SUMMARY).read_text())
    for name, block in summary["blocks"].items():
        print(
            f"{name}: {block['trials']} trials, deviation first {_mm(block['first_deviation_mm'])} -> last "
            f"{_mm(block['last_deviation_mm'])}, adaptation index {_number(block['last_adaptation_index'])}"
        )
    print(f"wrote trials.csv, adapt.json and the figures in {run_dir}")
    return 0


def _mm(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} mm"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pretraining_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    (kind,) = kinds.kinds_made_by(args.command)
    return kind.config_cls(**_config_fields(args, kind.config_cls))


def _pretrain(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    result = pretrain.pretrain(_pretraining_config(parser, args), args.out, progress=not args.no_progress)
    best, baseline = result["best"], result["baseline"]
    print(
        f"best epoch {best['epoch']}: validation hand position error {best['position_rmse_mm']:.1f} mm "
        f"(constant-velocity extrapolation: {baseline['position_rmse_mm']:.1f} mm); run directory: {args.out}"
    )
    return 0


def _pretrain_policy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    config = _pretraining_config(parser, args)
    summary = model_based.pretrain_policy(config, args.out, progress=not args.no_progress)
    arm = summary["arm"]
    print(
        f"learned arm: hand error {arm['arm_hand_rmse_mm']:.1f} mm after {config.arm_unroll_steps} open-loop "
        f"steps (arm kept still: {arm['still_hand_rmse_mm']:.1f} mm); the policy trained through it succeeds "
        f"in {summary['real_success']:.0%} of MuJoCo trials; run directory: {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
