#!/usr/bin/env python3
"""The robustness study's tables (docs/robustness.md) from the attack.json files scripts/attack-study.sh leaves in
OUT: one row per run and attack, with Pre-ASR, Post-ASR and the share of prompts with the concept in any image.
Usage: scripts/attack-table.py OUT"""
import json
import pathlib
import sys


def percent(value):
    return "—" if value is None else f"{100 * value:.1f} %"


def row(label, path):
    report = json.loads(path.read_text())
    settings = report["settings"]
    kind = {"unlearndiffatk": "UnlearnDiffAtk", "soft-prompt": "soft prompt", "class": "class attack"}[report["kind"]]
    if "placement" in settings:
        kind += f" ({settings['placement']})"
    images = len(report["per_prompt"]) * len(report["seeds"])
    return (f"| {label} | {kind} | {percent(report['pre_asr'])} | {percent(report['post_asr'])} | "
            f"{percent(report['pre_prompt_rate'])} → {percent(report['post_prompt_rate'])} | {images} | "
            f"{report['seconds']:.0f} s |")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    header = ("| model | attack | Pre-ASR | Post-ASR | prompts with the concept | images | time |\n"
              "|---|---|---|---|---|---|---|")
    print(header)
    for method in ("rgd", "graddiff", "ga", "esd"):
        for folder in ("attack-unlearndiffatk", "attack-unlearndiffatk-suffix", "attack-soft-prompt-suffix"):
            path = out / f"sneaker-{method}" / folder / "attack.json"
            if path.exists():
                print(row(f"sneaker, {method}", path))
    for name in ("base-stripped-unlearndiffatk-prefix", "base-stripped-unlearndiffatk-suffix",
                 "base-stripped-soft-suffix"):
        path = out / name / "attack.json"
        if path.exists():
            print(row("base, \"sneaker\" removed", path))
    print()
    print(header)
    for method in ("rgd", "graddiff", "salun"):
        path = out / f"class7-{method}" / "attack-class" / "attack.json"
        if path.exists():
            print(row(f"class 7, {method}", path))
    if (out / "base-class" / "attack.json").exists():
        print(row("base model", out / "base-class" / "attack.json"))


if __name__ == "__main__":
    main()
