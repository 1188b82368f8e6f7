#!/usr/bin/env bash
# make-sd15-random.sh OUT_DIR [init-t2i flags, e.g. --seed 1]
#
# Writes Stable Diffusion 1.5 at its real size with random weights, as a diffusers folder Lethe loads:
# UNet 859,520,964, CLIP ViT-L/14 text encoder 123,060,480 and VAE 83,653,863 parameters (about 4.3 GB in
# float32). It is for measuring the memory and speed of unlearning at real scale where the real weights cannot be
# downloaded: those costs depend on the shapes alone, not on what the weights learnt. The images it draws are noise.
# The configs below are runwayml/stable-diffusion-v1-5's, with the defaults scaling_factor and prediction_type
# spelt out; `lethe-cli init-t2i` builds the model from them and the printed parameter counts are checked. The
# tokenizer is the built-in model's vocabulary (CLIP's cannot be had offline), padded to 77 tokens as CLIP's is.
# LETHE_CLI names the lethe-cli to run (default: build/default/app/cli/lethe-cli of this checkout).
set -euo pipefail

if [[ $# -lt 1 || $1 == -* ]]; then
    echo "usage: $0 OUT_DIR [init-t2i flags, e.g. --seed 1]" >&2
    exit 2
fi
out=$1
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cli=${LETHE_CLI:-$root/build/default/app/cli/lethe-cli}
if [[ ! -x $cli ]]; then
    echo "$0: no lethe-cli at $cli (build it, or set LETHE_CLI)" >&2
    exit 1
fi

configs=$(mktemp -d "${TMPDIR:-/tmp}/sd15-configs.XXXXXX")
trap 'rm -rf "$configs"' EXIT
mkdir -p "$configs/unet" "$configs/text_encoder" "$configs/vae" "$configs/scheduler"

cat >"$configs/unet/config.json" <<'EOF'
{
  "_class_name": "UNet2DConditionModel",
  "_diffusers_version": "0.6.0",
  "act_fn": "silu",
  "attention_head_dim": 8,
  "block_out_channels": [320, 640, 1280, 1280],
  "center_input_sample": false,
  "cross_attention_dim": 768,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1,
  "flip_sin_to_cos": true,
  "freq_shift": 0,
  "in_channels": 4,
  "layers_per_block": 2,
  "mid_block_scale_factor": 1,
  "norm_eps": 1e-05,
  "norm_num_groups": 32,
  "out_channels": 4,
  "sample_size": 64,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
}
EOF

cat >"$configs/text_encoder/config.json" <<'EOF'
{
  "_name_or_path": "openai/clip-vit-large-patch14",
  "architectures": ["CLIPTextModel"],
  "attention_dropout": 0.0,
  "bos_token_id": 0,
  "dropout": 0.0,
  "eos_token_id": 2,
  "hidden_act": "quick_gelu",
  "hidden_size": 768,
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-05,
  "max_position_embeddings": 77,
  "model_type": "clip_text_model",
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "pad_token_id": 1,
  "projection_dim": 768,
  "torch_dtype": "float32",
  "transformers_version": "4.22.0.dev0",
  "vocab_size": 49408
}
EOF

cat >"$configs/vae/config.json" <<'EOF'
{
  "_class_name": "AutoencoderKL",
  "_diffusers_version": "0.6.0",
  "act_fn": "silu",
  "block_out_channels": [128, 256, 512, 512],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  "in_channels": 3,
  "latent_channels": 4,
  "layers_per_block": 2,
  "norm_num_groups": 32,
  "out_channels": 3,
  "sample_size": 512,
  "scaling_factor": 0.18215,
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
}
EOF

cat >"$configs/scheduler/scheduler_config.json" <<'EOF'
{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null
}
EOF

# The folder takes about 4.3 GB; refuse early rather than fail half-way through the UNet's file.
parent=$(dirname "$out")
mkdir -p "$parent"
free_kb=$(df -Pk "$parent" | awk 'NR == 2 { print $4 }')
if ((free_kb < 5 * 1024 * 1024)); then
    echo "$0: only $((free_kb / 1024)) MiB free under $parent; the model needs about 4.3 GB" >&2
    exit 1
fi

"$cli" init-t2i --configs "$configs" --out "$out" "$@" | tee "$configs/init.txt"

# The counts SD 1.5's real networks have: anything else means the architecture differs from SD 1.5's.
for expected in "UNet          859520964 parameters" "text encoder  123060480 parameters" \
    "VAE           83653863 parameters"; do
    if ! grep -qxF "$expected" "$configs/init.txt"; then
        echo "$0: expected '$expected' (SD 1.5's size) in init-t2i's output" >&2
        exit 1
    fi
done
echo "parameter counts are SD 1.5's; try it with: $cli generate --model $out --prompt 'a photo' --steps 2 --out OUT"
