#!/usr/bin/env python3
"""CLIP in plain PyTorch, the reference test_clip compares Lethe's CLIPModel and CLIPImageProcessor against.

Written from the published architecture (Radford et al. 2021, "Learning Transferable Visual Models From Natural
Language Supervision") in the layout of transformers' CLIPModel, whose state-dict names model.safetensors uses, with
torch.nn.functional only; the transformers package is not needed. Images are prepared as CLIPImageProcessor prepares
them, with PIL: resize the shortest edge (bicubic), centre crop, rescale to [0, 1], normalise.

    clip_reference.py MODEL_DIR INPUTS OUTPUT

MODEL_DIR holds config.json and model.safetensors (and optionally preprocessor_config.json); INPUTS is a safetensors
file with "input_ids" (int64 [T, L], token ids with the end-of-text token at the end) and "images" (uint8 [N, 3, H, W]);
OUTPUT receives float32 "image_features" [N, D], "text_features" [T, D], "logits_per_image" [N, T] and the float32
"pixel_values" [N, 3, S, S] the vision tower saw.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

TORCH_TYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
               "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
               "BOOL": torch.bool}
SAFETENSORS_NAMES = {value: key for key, value in TORCH_TYPES.items()}
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def read_safetensors(path):
    """Every tensor of a safetensors file: an 8-byte little-endian header length, a JSON header, the data."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = TORCH_TYPES[entry["dtype"]]
        raw = bytearray(data[start + begin:start + end])
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(entry["shape"]).clone()
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        blob = tensor.numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# ---- The network


def activation(name):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return lambda x: F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    raise SystemExit("unknown hidden_act " + name)


def linear(w, prefix, x, bias=True):
    return F.linear(x, w[prefix + ".weight"], w[prefix + ".bias"] if bias else None)


def attention(w, prefix, x, heads, mask):
    batch, length, width = x.shape
    head = width // heads

    def split(t):
        return t.view(batch, length, heads, head).transpose(1, 2)

    q = split(linear(w, prefix + ".q_proj", x) * head ** -0.5)
    k = split(linear(w, prefix + ".k_proj", x))
    v = split(linear(w, prefix + ".v_proj", x))
    scores = q @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores + mask
    out = torch.softmax(scores, dim=-1) @ v
    return linear(w, prefix + ".out_proj", out.transpose(1, 2).reshape(batch, length, width))


def encoder(w, prefix, x, config, mask):
    act = activation(config.get("hidden_act", "quick_gelu"))
    eps = config.get("layer_norm_eps", 1e-5)
    width = x.shape[-1]
    for i in range(config["num_hidden_layers"]):
        layer = f"{prefix}.encoder.layers.{i}"
        h = F.layer_norm(x, (width,), w[layer + ".layer_norm1.weight"], w[layer + ".layer_norm1.bias"], eps)
        x = x + attention(w, layer + ".self_attn", h, config["num_attention_heads"], mask)
        h = F.layer_norm(x, (width,), w[layer + ".layer_norm2.weight"], w[layer + ".layer_norm2.bias"], eps)
        x = x + linear(w, layer + ".mlp.fc2", act(linear(w, layer + ".mlp.fc1", h)))
    return x


def text_features(w, config, ids):
    length = ids.shape[1]
    x = w["text_model.embeddings.token_embedding.weight"][ids]
    x = x + w["text_model.embeddings.position_embedding.weight"][:length]
    # Causal: a token sees itself and the tokens before it.
    mask = torch.full((length, length), float("-inf")).triu(1)
    x = encoder(w, "text_model", x, config, mask)
    width = x.shape[-1]
    x = F.layer_norm(x, (width,), w["text_model.final_layer_norm.weight"], w["text_model.final_layer_norm.bias"],
                     config.get("layer_norm_eps", 1e-5))
    # The end-of-text token has the largest id; argmax finds its first occurrence.
    pooled = x[torch.arange(ids.shape[0]), ids.argmax(dim=-1)]
    return pooled @ w["text_projection.weight"].t()


def image_features(w, config, pixels):
    patch = config["patch_size"]
    x = F.conv2d(pixels, w["vision_model.embeddings.patch_embedding.weight"], stride=patch)
    x = x.flatten(2).transpose(1, 2)
    cls = w["vision_model.embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + w["vision_model.embeddings.position_embedding.weight"]
    width = x.shape[-1]
    eps = config.get("layer_norm_eps", 1e-5)
    x = F.layer_norm(x, (width,), w["vision_model.pre_layrnorm.weight"], w["vision_model.pre_layrnorm.bias"], eps)
    x = encoder(w, "vision_model", x, config, None)
    pooled = F.layer_norm(x[:, 0], (width,), w["vision_model.post_layernorm.weight"],
                          w["vision_model.post_layernorm.bias"], eps)
    return pooled @ w["visual_projection.weight"].t()


# ---- CLIPImageProcessor


def size_of(value, default):
    """(shortest_edge, height, width) of a "size" or "crop_size" entry."""
    if value is None:
        return default, 0, 0
    if isinstance(value, int):
        return value, 0, 0
    if "shortest_edge" in value:
        return value["shortest_edge"], 0, 0
    return 0, value["height"], value["width"]


def preprocess(images, processing, image_size):
    shortest, height, width = size_of(processing.get("size"), image_size)
    crop_shortest, crop_height, crop_width = size_of(processing.get("crop_size"), image_size)
    crop_height, crop_width = (crop_shortest, crop_shortest) if crop_shortest else (crop_height, crop_width)
    mean = torch.tensor(processing.get("image_mean", OPENAI_MEAN), dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(processing.get("image_std", OPENAI_STD), dtype=torch.float32).view(3, 1, 1)
    scale = processing.get("rescale_factor", 1 / 255)
    out = []
    for image in images:
        picture = Image.fromarray(image.permute(1, 2, 0).contiguous().numpy(), "RGB")
        w, h = picture.size
        if processing.get("do_resize", True):
            if shortest:
                short, long = (w, h) if w <= h else (h, w)
                new_long = int(shortest * long / short)
                w, h = (shortest, new_long) if w <= h else (new_long, shortest)
            else:
                w, h = width, height
            if (w, h) != picture.size:
                picture = picture.resize((w, h), Image.BICUBIC)
        if processing.get("do_center_crop", True):
            top, left = (h - crop_height) // 2, (w - crop_width) // 2
            picture = picture.crop((left, top, left + crop_width, top + crop_height))
        x = torch.from_numpy(np.asarray(picture, dtype=np.uint8).copy()).permute(2, 0, 1)
        x = x.to(torch.float64)
        if processing.get("do_rescale", True):
            x = x * scale
        x = x.to(torch.float32)
        if processing.get("do_normalize", True):
            x = (x - mean) / std
        out.append(x)
    return torch.stack(out)


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    folder, inputs_path, output_path = argv[1:]
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    text_config = dict(config["text_config"], **config.get("text_config_dict") or {})
    vision_config = dict(config["vision_config"], **config.get("vision_config_dict") or {})
    processing = {}
    if os.path.exists(os.path.join(folder, "preprocessor_config.json")):
        with open(os.path.join(folder, "preprocessor_config.json")) as f:
            processing = json.load(f)
    weights = {name: t.to(torch.float32) if t.is_floating_point() else t
               for name, t in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
    inputs = read_safetensors(inputs_path)

    with torch.no_grad():
        pixels = preprocess(inputs["images"], processing, vision_config["image_size"])
        image = image_features(weights, vision_config, pixels)
        text = text_features(weights, text_config, inputs["input_ids"].to(torch.int64))
        cosine = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
        logits = weights["logit_scale"].exp() * cosine
    write_safetensors(output_path, {"image_features": image, "text_features": text, "logits_per_image": logits,
                                    "pixel_values": pixels})


if __name__ == "__main__":
    main(sys.argv)
