#!/usr/bin/env python3
"""The table of docs/methods.md from the folder scripts/methods-study.sh filled.

Usage: scripts/methods-table.py OUT. For each run OUT/{sneaker,sneaker-bag}-METHOD (and the base model,
OUT/base-eval.json), from eval-t2i's JSON: the share of images the built-in classifier reads as the garment the
prompt names, averaged over the prompts naming a sneaker, a bag and the eight other garments, and the share showing
the colour the prompt names over those eight garments' prompts; from run.json: the training wall time (the steps,
without drawing images or measures) and the steps."""
import json
import os
import sys

METHODS = ["rgd", "rg", "graddiff", "salun", "salun-lambda1", "salun-lambda1-lr1e-4", "esd", "uce", "uce-colours"]
OTHERS = ["t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal", "shirt", "ankle boot"]


def rates(path):
    rows = json.load(open(path))["prompts"]

    def mean(key, names):
        values = [r[key] for r in rows if any(r["prompt"].endswith(" " + n) for n in names)]
        return sum(values) / len(values) if values else None

    return {"sneaker": mean("garment_rate", ["sneaker"]), "bag": mean("garment_rate", ["bag"]),
            "others": mean("garment_rate", OTHERS), "colours": mean("colour_rate", OTHERS),
            "images": sum(r["images"] for r in rows)}


def percent(x):
    return "–" if x is None else f"{100 * x:.1f} %"


def main():
    out = sys.argv[1]
    print("| erased | method | sneaker prompts → sneaker | bag prompts → bag | other garments right | colours right "
          "| wall time (training) | steps |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    base = os.path.join(out, "base-eval.json")
    if os.path.exists(base):
        r = rates(base)
        print(f"| – | base model | {percent(r['sneaker'])} | {percent(r['bag'])} | {percent(r['others'])} | "
              f"{percent(r['colours'])} | – | – |")
    for tag, erased in (("sneaker", "sneaker"), ("sneaker-bag", "sneaker + bag")):
        for m in METHODS:
            run = os.path.join(out, f"{tag}-{m}")
            if not os.path.exists(os.path.join(run, "eval.json")):
                continue
            r = rates(os.path.join(run, "eval.json"))
            manifest = json.load(open(os.path.join(run, "run.json")))
            print(f"| {erased} | {m} | {percent(r['sneaker'])} | {percent(r['bag'])} | {percent(r['others'])} | "
                  f"{percent(r['colours'])} | {manifest['seconds']:.1f} s | {manifest['steps']} |")


if __name__ == "__main__":
    main()
