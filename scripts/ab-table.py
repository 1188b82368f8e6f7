#!/usr/bin/env python3
"""The A/B table of scripts/ab-bench.sh: for each benchmark, the median over the rounds of each variant's
median, the new/old ratio of those (below 1: the new build is faster) and the speed-up old/new.

Usage: scripts/ab-table.py RUNS.tsv (the file ab-bench.sh writes: round, variant, benchmark, median_ms)."""
import csv
import statistics
import sys


def main():
    times = {}
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            times.setdefault(row["benchmark"], {}).setdefault(row["variant"], []).append(float(row["median_ms"]))
    print("| benchmark | rounds | old median | new median | new/old | speed-up |")
    print("|-----------|-------:|-----------:|-----------:|--------:|---------:|")
    for benchmark, variants in times.items():
        old = statistics.median(variants["old"])
        new = statistics.median(variants["new"])
        print(f"| {benchmark} | {len(variants['old'])} | {old:.1f} | {new:.1f} | {new / old:.3f} | "
              f"{old / new:.2f}× |")


if __name__ == "__main__":
    main()
