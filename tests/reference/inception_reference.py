#!/usr/bin/env python3
"""pool3 features of FID's Inception-v3 in plain PyTorch, the reference test_inception compares Lethe against.

Written from Lethe's description of the network (pytorch-fid's FIDInceptionV3: TensorFlow's 2015-12-05 Inception-v3
graph; see core/models/inception/fid_inception.h), with torch.nn.functional only. It reads its inputs and writes its
output as safetensors with the small reader and writer below, so it needs nothing but torch and numpy:

    inception_reference.py WEIGHTS IMAGES OUTPUT [--resize edm] [--resize pytorch-fid]

WEIGHTS holds the network under pytorch-fid's names (float32 or float16); IMAGES holds uint8 tensors [N, 3, H, W] or
[N, 1, H, W] under any names; OUTPUT receives float32 features [N, 2048] as "<resize>/<name>" for each resize given
(both when none is).
"""

import argparse
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

NUMPY_TYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
               "U8": np.uint8}
RESIZES = ("edm", "pytorch-fid")
SIDE = 299


def read_safetensors(path):
    """{name: torch tensor} of a safetensors file; floating tensors come back as float32."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    header.pop("__metadata__", None)
    data = blob[8 + length:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=np.dtype(NUMPY_TYPES[entry["dtype"]]).newbyteorder("<"))
        tensor = torch.from_numpy(array.astype(array.dtype.newbyteorder("="))).reshape(entry["shape"])
        tensors[name] = tensor.float() if tensor.is_floating_point() else tensor
    return tensors


def write_safetensors(path, tensors):
    """Writes {name: float32 tensor} as safetensors."""
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        raw = tensor.detach().cpu().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for raw in chunks:
            out.write(raw)


class Network:
    """The convolutions of the network by pytorch-fid's names, and its forward pass."""

    def __init__(self, weights):
        self.w = weights

    def conv(self, name, x, stride=1, padding=0):
        """BasicConv2d: convolution without bias, batch norm (eps 0.001, running statistics), ReLU."""
        w = self.w
        x = F.conv2d(x, w[name + ".conv.weight"], None, stride, padding)
        x = F.batch_norm(x, w[name + ".bn.running_mean"], w[name + ".bn.running_var"], w[name + ".bn.weight"],
                         w[name + ".bn.bias"], False, 0.0, 0.001)
        return F.relu(x)

    @staticmethod
    def average_pool(x):
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)

    def block_a(self, b, x):
        return torch.cat([
            self.conv(b + ".branch1x1", x),
            self.conv(b + ".branch5x5_2", self.conv(b + ".branch5x5_1", x), padding=2),
            self.conv(b + ".branch3x3dbl_3",
                      self.conv(b + ".branch3x3dbl_2", self.conv(b + ".branch3x3dbl_1", x), padding=1), padding=1),
            self.conv(b + ".branch_pool", self.average_pool(x)),
        ], 1)

    def block_b(self, b, x):
        return torch.cat([
            self.conv(b + ".branch3x3", x, stride=2),
            self.conv(b + ".branch3x3dbl_3",
                      self.conv(b + ".branch3x3dbl_2", self.conv(b + ".branch3x3dbl_1", x), padding=1), stride=2),
            F.max_pool2d(x, 3, stride=2),
        ], 1)

    def block_c(self, b, x):
        wide, tall = (0, 3), (3, 0)  # padding of the 1×7 and 7×1 convolutions
        single = self.conv(b + ".branch7x7_1", x)
        single = self.conv(b + ".branch7x7_2", single, padding=wide)
        single = self.conv(b + ".branch7x7_3", single, padding=tall)
        double = self.conv(b + ".branch7x7dbl_1", x)
        double = self.conv(b + ".branch7x7dbl_2", double, padding=tall)
        double = self.conv(b + ".branch7x7dbl_3", double, padding=wide)
        double = self.conv(b + ".branch7x7dbl_4", double, padding=tall)
        double = self.conv(b + ".branch7x7dbl_5", double, padding=wide)
        return torch.cat([self.conv(b + ".branch1x1", x), single, double,
                          self.conv(b + ".branch_pool", self.average_pool(x))], 1)

    def block_d(self, b, x):
        three = self.conv(b + ".branch3x3_2", self.conv(b + ".branch3x3_1", x), stride=2)
        seven = self.conv(b + ".branch7x7x3_1", x)
        seven = self.conv(b + ".branch7x7x3_2", seven, padding=(0, 3))
        seven = self.conv(b + ".branch7x7x3_3", seven, padding=(3, 0))
        seven = self.conv(b + ".branch7x7x3_4", seven, stride=2)
        return torch.cat([three, seven, F.max_pool2d(x, 3, stride=2)], 1)

    def block_e(self, b, x, max_pool):
        three = self.conv(b + ".branch3x3_1", x)
        double = self.conv(b + ".branch3x3dbl_2", self.conv(b + ".branch3x3dbl_1", x), padding=1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if max_pool else self.average_pool(x)
        return torch.cat([
            self.conv(b + ".branch1x1", x),
            torch.cat([self.conv(b + ".branch3x3_2a", three, padding=(0, 1)),
                       self.conv(b + ".branch3x3_2b", three, padding=(1, 0))], 1),
            torch.cat([self.conv(b + ".branch3x3dbl_3a", double, padding=(0, 1)),
                       self.conv(b + ".branch3x3dbl_3b", double, padding=(1, 0))], 1),
            self.conv(b + ".branch_pool", pooled),
        ], 1)

    def pool3(self, x):
        """[N, 3, 299, 299] in [-1, 1] -> [N, 2048]."""
        x = self.conv("Conv2d_1a_3x3", x, stride=2)
        x = self.conv("Conv2d_2a_3x3", x)
        x = self.conv("Conv2d_2b_3x3", x, padding=1)
        x = F.max_pool2d(x, 3, stride=2)
        x = self.conv("Conv2d_3b_1x1", x)
        x = self.conv("Conv2d_4a_3x3", x)
        x = F.max_pool2d(x, 3, stride=2)
        for b in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
            x = self.block_a(b, x)
        x = self.block_b("Mixed_6a", x)
        for b in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
            x = self.block_c(b, x)
        x = self.block_d("Mixed_7a", x)
        x = self.block_e("Mixed_7b", x, max_pool=False)
        x = self.block_e("Mixed_7c", x, max_pool=True)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def network_input(images, resize):
    """uint8 [N, 3 or 1, H, W] -> float32 [N, 3, 299, 299] in [-1, 1], as the named resize prepares it."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError("expected uint8 images [N, 3, H, W] or [N, 1, H, W], got %s %s"
                         % (images.dtype, list(images.shape)))
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    x = images.float()
    n, c, height, width = x.shape
    if resize == "edm":
        # NVIDIA's detector: an identity affine grid shifted by (1/W - 1/299, 1/H - 1/299), border padding.
        theta = torch.eye(2, 3)
        theta[0, 2] += theta[0, 0] / width - theta[0, 0] / SIDE
        theta[1, 2] += theta[1, 1] / height - theta[1, 1] / SIDE
        grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, SIDE, SIDE], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return (x - 128) / 128
    if resize == "pytorch-fid":
        x = F.interpolate(x / 255, size=(SIDE, SIDE), mode="bilinear", align_corners=False)
        return 2 * x - 1
    raise ValueError("unknown resize %r" % resize)


def features(weights, images, resize):
    """pool3 features [N, 2048] of uint8 images under {pytorch-fid name: tensor} weights."""
    with torch.no_grad():
        return Network(weights).pool3(network_input(images, resize))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Reference pool3 features of FID's Inception-v3.")
    parser.add_argument("weights")
    parser.add_argument("images")
    parser.add_argument("output")
    parser.add_argument("--resize", action="append", choices=RESIZES)
    args = parser.parse_args(argv)
    weights = read_safetensors(args.weights)
    out = {}
    for resize in args.resize or RESIZES:
        for name, images in read_safetensors(args.images).items():
            out[resize + "/" + name] = features(weights, images, resize)
    write_safetensors(args.output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
