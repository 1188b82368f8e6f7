#!/usr/bin/env bash
# The robustness study of docs/robustness.md: the sneaker erasure at the README's settings by RGD, GradDiff, GA and
# ESD on the built-in text-to-image model, each attacked by UnlearnDiffAtk and by a soft prompt; the same attacks on
# the base model with "sneaker" removed from the prompts (the attack is real); the class attack on RGD, GradDiff and
# SalUn runs that forget class 7 of the built-in class model. Usage: scripts/attack-study.sh OUT [concept|class|all]
# Runs that already have their folder are not made again; LETHE_CLI picks the lethe-cli (default: on the PATH).
set -euo pipefail
out=${1:?usage: scripts/attack-study.sh OUT [concept|class|all]}
part=${2:-all}
cli=${LETHE_CLI:-lethe-cli}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
preset=${LETHE_PRESET:-$here/resources/presets/fashion-colours.json}
mkdir -p "$out"
cd "$out"
if [[ $part == concept || $part == all ]]; then
    for m in rgd graddiff ga esd; do
        [[ -f sneaker-$m/run.json ]] || $cli --threads 1 unlearn-concept --preset "$preset" --method $m --alpha 0.1 \
            --lambda 10 --steps 150 --lr 1e-5 --gen-steps 30 --guidance 3 --fashion-measures \
            --remain-pairing independent --images images --out sneaker-$m
        # UnlearnDiffAtk with its tokens before the prompt (its default) and after it, and the soft prompt after it.
        for spec in unlearndiffatk:prefix unlearndiffatk:suffix soft:suffix; do
            a=${spec%:*} placement=${spec#*:}
            folder=attack-${a/soft/soft-prompt}
            if [[ $placement == suffix ]]; then folder=$folder-suffix; fi
            [[ -f sneaker-$m/$folder/attack.json ]] || $cli --threads 1 attack --run sneaker-$m --attack $a \
                --attack-placement $placement --prompts 0 --seeds 0-7
        done
    done
    # The base model, asked for the concept without its word: the attack is real when it brings the concept back.
    base=$here/resources/models/fmnist-t2i
    for spec in unlearndiffatk:prefix unlearndiffatk:suffix soft:suffix; do
        a=${spec%:*} placement=${spec#*:}
        [[ -f base-stripped-$a-$placement/attack.json ]] || $cli --threads 1 attack --model "$base" --base "$base" \
            --concept sneaker --prompt-file sneaker-rgd/forget.json --prompts 0 --strip-concept --attack $a \
            --attack-placement $placement --seeds 0-7 --steps 30 --guidance 3 --out base-stripped-$a-$placement
    done
fi
if [[ $part == class || $part == all ]]; then
    for m in rgd graddiff salun; do
        [[ -f class7-$m/run.json ]] || $cli --threads 1 unlearn --forget-class 7 --method $m --out class7-$m
        [[ -f class7-$m/attack-class/attack.json ]] || $cli --threads 1 attack --run class7-$m
    done
    # The attack on the base model itself: its one-hot label already draws class 7 (Pre-ASR near 1).
    [[ -f base-class/attack.json ]] || $cli --threads 1 attack --model "$here/resources/models/fmnist-edm.safetensors" \
        --base "$here/resources/models/fmnist-edm.safetensors" --forget-class 7 --out base-class
fi
