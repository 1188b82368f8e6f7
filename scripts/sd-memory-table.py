#!/usr/bin/env python3
"""The table of scripts/sd-memory-study.sh: seconds per step, peak resident set and Lethe's estimate per setting.

Reads OUT_DIR/<setting>.log as `lethe-cli bench unlearn-concept` writes it; prints a Markdown table."""
import re
import sys
from pathlib import Path

SETTINGS = [
    ("none", "none (float32, plain attention, no checkpointing)"),
    ("checkpointing", "gradient checkpointing"),
    ("efficient-attention", "memory-efficient attention"),
    ("bfloat16", "bfloat16 autocast"),
    ("all", "all three"),
    ("all-steady", "all three, steps 2–3 (Adam's moments exist)"),
]
GIB = 1024**3


def parse(path):
    text = path.read_text()
    steps = [float(s) for s in re.findall(r"^step \d+: ([0-9.]+) s", text, re.M)]
    peak = re.search(r"^peak RSS .*?\((\d+) bytes\); estimate: first step .*?\((\d+) bytes\), later steps .*?\((\d+) bytes\)", text, re.M)
    if not steps or not peak:
        return None
    return steps, int(peak.group(1)), int(peak.group(2)), int(peak.group(3))


def main():
    out = Path(sys.argv[1])
    print("| setting | s / step | peak RSS | estimate | estimate / measured |")
    print("|---|---:|---:|---:|---:|")
    for name, label in SETTINGS:
        log = out / f"{name}.log"
        parsed = parse(log) if log.exists() else None
        if parsed is None:
            reason = "no log" if not log.exists() else "did not finish (" + log.read_text().strip().splitlines()[-1][:120] + ")"
            print(f"| {label} | — | — | — | {reason} |")
            continue
        steps, peak, first, later = parsed
        steady = name.endswith("steady")
        seconds = sorted(steps[1:])[len(steps[1:]) // 2] if steady and len(steps) > 1 else steps[0]
        estimate = later if steady else first
        print(f"| {label} | {seconds:.0f} | {peak / GIB:.2f} GiB | {estimate / GIB:.2f} GiB | {estimate / peak:.3f} |")


if __name__ == "__main__":
    main()
