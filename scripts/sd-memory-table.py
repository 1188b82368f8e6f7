#!/usr/bin/env python3
"""The table of scripts/sd-memory-study.sh: seconds per step, peak resident set and Lethe's estimate per setting.

Reads OUT_DIR/<setting>.log as `lethe-cli bench unlearn-concept` writes it, asks the same lethe-cli for its
estimate of each setting (`bench unlearn-concept --estimate-only`: the estimator of the build at hand), and prints
a Markdown table. Usage: sd-memory-table.py OUT_DIR LETHE_CLI MODEL_DIR"""
import re
import subprocess
import sys
from pathlib import Path

FLAGS = {
    "none": [],
    "checkpointing": ["--gradient-checkpointing"],
    "efficient-attention": ["--memory-efficient-attention"],
    "bfloat16": ["--precision", "bfloat16"],
    "all-first": ["--gradient-checkpointing", "--memory-efficient-attention", "--precision", "bfloat16"],
    "all-steady": ["--gradient-checkpointing", "--memory-efficient-attention", "--precision", "bfloat16"],
}


def estimate(cli, model, name):
    """Lethe's estimate (bytes) of the first step or, for the steady rows, of the later steps."""
    steps = "3" if name == "all-steady" else "1"
    text = subprocess.run([cli, "bench", "unlearn-concept", "--model", model, "--method", "rgd", "--params", "all",
                           "--batch", "1", "--size", "512", "--steps", steps, "--device", "cpu", "--estimate-only"]
                          + FLAGS[name], check=True, capture_output=True, text=True).stdout
    found = re.search(r"^estimate: first step .*?\((\d+) bytes\), later steps .*?\((\d+) bytes\)", text, re.M)
    return int(found.group(2 if name == "all-steady" else 1))

SETTINGS = [
    ("none", "none (float32, plain attention, no checkpointing)"),
    ("checkpointing", "gradient checkpointing"),
    ("efficient-attention", "memory-efficient attention"),
    ("bfloat16", "bfloat16 autocast"),
    ("all-first", "all three"),
    ("all-steady", "all three, steps 2–3 (Adam's moments exist)"),
]
GIB = 1024**3


def gib(text):
    value, unit = text.split()
    return int(float(value) * (GIB if unit == "GiB" else 1024**2))


def parse(path, first_only=False):
    """Seconds of each step and the peak resident set (of the first step alone with first_only)."""
    text = path.read_text()
    steps = [float(s) for s in re.findall(r"^step \d+: ([0-9.]+) s", text, re.M)]
    peaks = [gib(p) for p in re.findall(r"^step \d+: [0-9.]+ s, peak RSS so far ([0-9.]+ [GM]iB)", text, re.M)]
    if not steps:
        return None
    if first_only:
        return steps[:1], peaks[0]
    final = re.search(r"^peak RSS .*?\((\d+) bytes\)", text, re.M)
    return steps, int(final.group(1)) if final else peaks[-1]


def main():
    out, cli, model = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    print("| setting | s / step | peak RSS | estimate | estimate / measured |")
    print("|---|---:|---:|---:|---:|")
    for name, label in SETTINGS:
        first_only = name == "all-first"
        log = out / ("all-steady.log" if first_only else f"{name}.log")
        parsed = parse(log, first_only) if log.exists() else None
        if parsed is None:
            reason = "no log" if not log.exists() else "did not finish (" + log.read_text().strip().splitlines()[-1][:120] + ")"
            print(f"| {label} | — | — | — | {reason} |")
            continue
        steps, peak = parsed
        steady = name.endswith("steady")
        seconds = sorted(steps[1:])[len(steps[1:]) // 2] if steady and len(steps) > 1 else steps[0]
        expected = estimate(cli, model, name)
        print(f"| {label} | {seconds:.0f} | {peak / GIB:.2f} GiB | {expected / GIB:.2f} GiB | {expected / peak:.3f} |")


if __name__ == "__main__":
    main()
