"""Adaptation of trained networks to a curl field and a visuomotor rotation (issue 15), beside
people's findings.

    python benchmarks/adaptation.py --runs runs/co_v2_s0 runs/co_v2_s1 runs/co_v2_s2 --root runs/adaptation

Runs the shipped protocols on each trained run, into ``ROOT/<protocol>/<task>/<run name>`` (an
adapt run already there is reported, not redone): ``curl-field`` (160 baseline trials, 800 in a
15 N s/m clockwise curl field, 320 of washout, 800 of re-exposure; one in five a force-channel
trial) and ``visuomotor-rotation`` (160 baseline, 800 with the seen hand rotated 30 degrees, 320 of
washout), each with continued PPO learning; ``curl-field-learned-arm`` (the curl-field protocol
learnt by the learned-arm rule: the gradient of each trial's cost through a learned arm) and
``visuomotor-rotation-learned-arm`` (the rotation protocol learnt so); ``curl-field-two-rate``
(the curl-field protocol learnt by PPO through a fast and a slow process); and
``load-pulse`` (40 unperturbed trials, then 160 with a 3 N push for 50 ms while the hand holds the
start, without learning). Writes ``results/adaptation.md``: per protocol and task the median
[min, max] over runs of each measure beside its target and people's findings (with a warning
where the baseline is not steady enough for the exposure to measure adaptation), and the
learning curve and hand paths of the first run as figures. ``--protocols`` runs some of them
only: a model-based pretraining (``motorgym pretrain-policy``, no trained critic) takes the
learned-arm ones, e.g. the muscle arm's human-like networks (``adaptation_muscle.md`` for the
MuscleCenterOut-v2 ones, ``adaptation_muscle_v3.md`` for v3's):

    python benchmarks/adaptation.py --runs runs/mco_v3_s0 runs/mco_v3_s1 runs/mco_v3_s2 --root runs/adaptation \
        --protocols curl-field-learned-arm-muscle-sideways-error visuomotor-rotation-learned-arm-muscle-sideways-error \
        --out benchmarks/results/adaptation_muscle_v3.md

A column is a task: the run's env id, with the arguments it was made with where it has any.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from motorgym.train import kinds
from motorgym.train.adapt import adapt
from motorgym.train.adapt_report import report_adapt_run
from motorgym.train.run_dir import ADAPT_SUMMARY, ADAPTATION_PLOT, PATHS_PLOT

sys.path.insert(0, str(Path(__file__).parent))
from env_throughput import command_line, machine_line  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _blocks(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return summary["blocks"]


def _ratio(summary: dict[str, Any]) -> float | None:
    exposure = _blocks(summary)["exposure"]
    first, last = exposure["first_deviation_mm"], exposure["last_deviation_mm"]
    return None if first is None or last is None or first <= 0 else last / first


#: measure: (label, how it is read from adapt.json, format, target text, met(value), people's finding)
CURL_MEASURES: dict[str, tuple[str, Any, str, str, Any, str]] = {
    # Where the baseline stands: the measures below are only adaptation if it is steady (straight,
    # successful reaches; an index near 0 without a field).
    "baseline_deviation": (
        "baseline: last reaching trials' deviation, mm",
        lambda s: _blocks(s)["baseline"]["last_deviation_mm"],
        "{:+.1f}",
        "near 0",
        None,
        "nearly straight (Morasso 1981)",
    ),
    "baseline_index": (
        "baseline: adaptation index of channel trials (no field)",
        lambda s: _blocks(s)["baseline"]["last_adaptation_index"],
        "{:.2f}",
        "near 0",
        None,
        "near 0",
    ),
    "exposure_success": (
        "success in exposure",
        lambda s: _blocks(s)["exposure"]["success"],
        "{:.0%}",
        "-",
        None,
        "-",
    ),
    "first": (
        "first exposure trials' deviation, mm (+: the field's way)",
        lambda s: _blocks(s)["exposure"]["first_deviation_mm"],
        "{:+.1f}",
        ">= 10",
        lambda v: v >= 10,
        "the hand is pushed off the straight path the field's way (Shadmehr & Mussa-Ivaldi 1994)",
    ),
    "ratio": (
        "late / first exposure deviation",
        _ratio,
        "{:.0%}",
        "<= 40%",
        lambda v: v <= 0.4,
        "straight again after ~100-300 trials",
    ),
    "index": (
        "adaptation index, late exposure channel trials",
        lambda s: _blocks(s)["exposure"]["last_adaptation_index"],
        "{:.2f}",
        ">= 0.6",
        lambda v: v >= 0.6,
        "rises over exposure as the field comes to be predicted (Smith, Ghazizadeh & Shadmehr 2006)",
    ),
    "after": (
        "first washout trials' deviation, mm",
        lambda s: _blocks(s)["washout"]["first_deviation_mm"],
        "{:+.1f}",
        "<= -5",
        lambda v: v <= -5,
        "mirror-image after-effects",
    ),
    "half_first": (
        "reaching trials to half the error, first exposure",
        lambda s: _blocks(s)["exposure"]["trials_to_half_deviation"],
        "{:.0f}",
        "-",
        None,
        "adaptation over ~100-300 trials",
    ),
    "half_second": (
        "reaching trials to half the error, re-exposure",
        lambda s: _blocks(s)["re-exposure"]["trials_to_half_deviation"],
        "{:.0f}",
        "fewer than the first time",
        None,
        "fewer (savings)",
    ),
}


ROTATION_MEASURES: dict[str, tuple[str, Any, str, str, Any, str]] = {
    "first": (
        "first exposure trials' direction error, deg",
        lambda s: _blocks(s)["exposure"]["first_direction_error_deg"],
        "{:+.1f}",
        "near +30",
        None,
        "the cursor sets off rotated (Krakauer et al. 2000)",
    ),
    "late": (
        "late exposure direction error, deg",
        lambda s: _blocks(s)["exposure"]["last_direction_error_deg"],
        "{:+.1f}",
        "near 0",
        None,
        "corrected over the exposure (Krakauer et al. 2000)",
    ),
    "after": (
        "first washout trials' direction error, deg",
        lambda s: _blocks(s)["washout"]["first_direction_error_deg"],
        "{:+.1f}",
        "< 0",
        None,
        "after-effects the other way",
    ),
}
PULSE_MEASURES: dict[str, tuple[str, Any, str, str, Any, str]] = {
    "displacement": (
        "hand displacement after a 3 N, 50 ms push while holding the start, mm",
        lambda s: _blocks(s)["pulses"]["pulse_displacement_mm"],
        "{:.1f}",
        "-",
        None,
        "a few mm to cm, by load and arm stiffness",
    ),
    "latency": (
        "latency of the corrective command, ms",
        lambda s: _blocks(s)["pulses"]["pulse_latency_ms"],
        "{:.0f}",
        "-",
        None,
        "~20 ms spinal, 50-100 ms long-latency (Pruszynski & Scott 2012)",
    ),
}
PROTOCOLS = {
    "curl-field": CURL_MEASURES,
    "curl-field-learned-arm": CURL_MEASURES,
    "curl-field-learned-arm-muscle": CURL_MEASURES,
    "curl-field-learned-arm-muscle-sideways-error": CURL_MEASURES,
    "curl-field-two-rate": CURL_MEASURES,
    "visuomotor-rotation": ROTATION_MEASURES,
    "visuomotor-rotation-learned-arm": ROTATION_MEASURES,
    "visuomotor-rotation-learned-arm-muscle": ROTATION_MEASURES,
    "visuomotor-rotation-learned-arm-muscle-sideways-error": ROTATION_MEASURES,
    "load-pulse": PULSE_MEASURES,
}


def task_label(env_id: str, env_kwargs: dict[str, Any]) -> str:
    """The task a run was trained on: its id, and the arguments it was made with if any (a run made
    with a newer version's defaults on an older id is that task, and says so)."""
    if not env_kwargs:
        return env_id
    return f"{env_id} with " + ", ".join(f"{name}={value}" for name, value in sorted(env_kwargs.items()))


def run_all(runs: list[Path], root: Path, protocol: str) -> dict[str, list[Path]]:
    """Adapt every trained run under ``protocol`` (unless done) and return the adapt runs by task."""
    done: dict[str, list[Path]] = {}
    for run in runs:
        agent = kinds.load_agent(run)
        env_id = agent.env_id
        out = root / protocol / env_id.split("/")[1] / run.name
        if not (out / ADAPT_SUMMARY).exists():
            if out.exists():
                shutil.rmtree(out)  # an unfinished adapt run of ours: start it again
            print(f"adapting {run} ({protocol}) -> {out}", flush=True)
            adapt(run, protocol, out, progress=False)
        else:
            report_adapt_run(out, out)  # the summary and figures as this version draws them
        done.setdefault(task_label(env_id, agent.env_kwargs), []).append(out)
    return done


def _median_text(values: list[float], fmt: str) -> str:
    finite = [v for v in values if v is not None]
    if not finite:
        return "-"
    return f"{fmt.format(statistics.median(finite))} [{fmt.format(min(finite))}, {fmt.format(max(finite))}]"


#: A baseline below this success, or with a channel-trial index further than this from 0, is not
#: steady enough for the exposure's measures to be read as adaptation.
STEADY_SUCCESS, STEADY_INDEX = 0.8, 0.5


def _unsteady_baselines(done: dict[str, list[Path]]) -> list[str]:
    """A warning per task whose baseline (median over runs) is not steady."""
    warnings = []
    for task, adapt_runs in done.items():
        baselines = [json.loads((r / ADAPT_SUMMARY).read_text())["blocks"]["baseline"] for r in adapt_runs]
        success = statistics.median(b["success"] for b in baselines)
        index = statistics.median(b["last_adaptation_index"] for b in baselines)
        if success < STEADY_SUCCESS or abs(index) > STEADY_INDEX:
            warnings.append(
                f"**{task}: the baseline is not steady** (success {success:.0%}, channel-trial index "
                f"{index:.2f} without a field): its exposure measures, and their *met*, do not measure adaptation."
            )
    return warnings


def report(protocol: str, done: dict[str, list[Path]]) -> str:
    """The Markdown table of one protocol's runs."""
    lines = [
        f"## {protocol}",
        "",
        f"`motorgym/train/protocols/{protocol.replace('-', '_')}.yaml`; median [min, max] over the runs.",
        "",
        "| measure | target | people | " + " | ".join(f"{task} ({len(r)} runs)" for task, r in done.items()) + " |",
        "|---|---|---|" + "---|" * len(done),
    ]
    for _, (label, read, fmt, target, met, people) in PROTOCOLS[protocol].items():
        cells = []
        for adapt_runs in done.values():
            values = [read(json.loads((r / ADAPT_SUMMARY).read_text())) for r in adapt_runs]
            text = _median_text(values, fmt)
            finite = [v for v in values if v is not None]
            if met is not None and finite:
                text += " met" if met(statistics.median(finite)) else " **not met**"
            cells.append(text)
        lines.append(f"| {label} | {target} | {people} | " + " | ".join(cells) + " |")
    if PROTOCOLS[protocol] is not CURL_MEASURES:
        return "\n".join([*lines, ""])
    lines += ["", *_unsteady_baselines(done)]
    savings = []
    for task, adapt_runs in done.items():
        pairs = [json.loads((r / ADAPT_SUMMARY).read_text())["blocks"] for r in adapt_runs]
        faster = [
            b["re-exposure"]["trials_to_half_deviation"] < b["exposure"]["trials_to_half_deviation"]
            for b in pairs
            if b["re-exposure"]["trials_to_half_deviation"] is not None
            and b["exposure"]["trials_to_half_deviation"] is not None
        ]
        savings.append(f"{task}: savings in {sum(faster)} of {len(pairs)} runs")
    lines += [
        "",
        "; ".join(savings) + ". Trials to half count reaching trials (channel and catch trials left out), "
        "on a running mean of 32.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--runs",
        type=Path,
        nargs="+",
        required=True,
        help="trained lstm-ppo/gru-ppo runs (model-based: see --protocols)",
    )
    parser.add_argument("--root", type=Path, required=True, help="where the adapt runs go")
    parser.add_argument(
        "--protocols",
        nargs="+",
        choices=list(PROTOCOLS),
        default=list(PROTOCOLS),
        help="the protocols to run (default: all; model-based runs take only the learned-arm ones)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "adaptation.md")
    args = parser.parse_args(argv)
    command = command_line("adaptation.py", argv)
    sections = ["# Adaptation (issue 15)", "", f"Command: `{command}`  ", f"Machine: {machine_line()}", ""]
    for protocol in args.protocols:
        done = run_all(args.runs, args.root, protocol)
        sections.append(report(protocol, done))
        first = next(iter(done.values()))[0]
        for name in (ADAPTATION_PLOT, PATHS_PLOT):
            figure = f"{args.out.stem}_{protocol.replace('-', '_')}_{name}"  # beside the report, named after it
            shutil.copy(first / name, args.out.parent / figure)
            sections.append(f"![{protocol}: {name} of {first.name}]({figure})\n")
    args.out.write_text("\n".join(sections))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
