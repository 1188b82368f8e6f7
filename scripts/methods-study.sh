#!/usr/bin/env bash
# The method comparison of docs/methods.md: the built-in text-to-image model erases "sneaker", then "sneaker" and
# "bag" together, with RGD, RG, GradDiff, SalUn, ESD and UCE at one budget (the README's: α 0.1, λ 10, lr 1e-5, 150
# steps of batch 8, seed 0, independent remain batches), each model measured by eval-t2i on
# resources/prompts/fashion-grid-small.json (10 garments × red, blue, white; seeds 0-3), as is the base model.
# salun-lambda1 and salun-lambda1-lr1e-4 are SalUn with λ 1 (and lr 1e-4): at λ 10 its relabelled loss barely moves.
# uce-colours is UCE preserving, besides the other garments, every colour of the preset (held-out white and pink too):
# with the default list (the other garments) UCE loses the colours it was not told to keep.
# LETHE_METHODS (default: all of them) chooses the runs. Usage: scripts/methods-study.sh OUT [train|eval|all].
# "eval" waits for each run's model, so that one process can train while another measures. Runs and measures that
# already have their files are not made again; LETHE_CLI picks the lethe-cli (default: on the PATH).
set -euo pipefail
out=${1:?usage: scripts/methods-study.sh OUT [train|eval|all]}
part=${2:-all}
cli=${LETHE_CLI:-lethe-cli}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
preset=$here/resources/presets/fashion-colours.json
grid=$here/resources/prompts/fashion-grid-small.json
read -r -a methods <<< "${LETHE_METHODS:-rgd rg graddiff salun esd uce uce-colours salun-lambda1 salun-lambda1-lr1e-4}"
colours=red,green,blue,yellow,purple,white,pink
mkdir -p "$out"
cd "$out"
evaluate() { # MODEL_ARGS... -- JSON
    local json=${*: -1}
    [[ -f $json ]] || $cli --threads 1 eval-t2i "${@:1:$#-1}" --prompts "$grid" --seeds 0-3 --steps 30 --guidance 3 \
        --json "$json.part" > "$json.log" 2>&1
    [[ -f $json ]] || mv "$json.part" "$json"
}
for concept in sneaker sneaker,bag; do
    tag=${concept/,/-}
    for m in "${methods[@]}"; do
        run=$tag-$m
        method=(--method "$m")
        budget=(--lambda 10 --lr 1e-5)
        case $m in
            salun-lambda1) method=(--method salun) budget=(--lambda 1 --lr 1e-5) ;;
            salun-lambda1-lr1e-4) method=(--method salun) budget=(--lambda 1 --lr 1e-4) ;;
        esac
        if [[ $m == uce-colours ]]; then
            others=t-shirt,pair\ of\ trousers,pullover,dress,coat,sandal,shirt,ankle\ boot
            [[ $concept == *bag* ]] || others=$others,bag
            method=(--method uce --uce-preserve "$others,$colours")
        fi
        if [[ $part == train || $part == all ]]; then
            [[ -f $run/run.json ]] || $cli --threads 1 unlearn-concept --preset "$preset" --concept "$concept" \
                "${method[@]}" --alpha 0.1 "${budget[@]}" --steps 150 --gen-steps 30 --guidance 3 \
                --fashion-measures --remain-pairing independent --images images --out $run > $run.log 2>&1
        fi
        if [[ $part == eval || $part == all ]]; then
            while [[ ! -f $run/run.json ]]; do sleep 20; done
            evaluate --model $run/model $run/eval.json
        fi
    done
done
if [[ $part == eval || $part == all ]]; then
    evaluate base-eval.json # No --model: the built-in model itself.
fi
