#!/usr/bin/env python3
"""Put the weights of a Lethe EDM model file (an unlearned model, an exported snapshot) back into an NVlabs EDM
snapshot pickle, so that EDM's own code (generate.py, fid.py) loads it like any other checkpoint.

Lethe keeps EDM's tensor names and shapes, so the weights drop into the parent's network unchanged. Run it in
your own EDM environment (a checkout of https://github.com/NVlabs/edm with its Python packages):

    cd /path/to/edm
    python /path/to/lethe/scripts/safetensors_to_edm_pkl.py \\
        edm-cifar10-32x32-cond-vp.pkl run/model.safetensors unlearned-cifar10.pkl
    python generate.py --network=unlearned-cifar10.pkl --seeds=0-63 --class=3 --outdir=out

The parent pickle supplies the network's code and constructor arguments (a pickle of EDM holds both); every
tensor of the Lethe file must match the parent's 'ema' network by name and shape, or nothing is written. The
output is the parent snapshot with 'ema' replaced and a 'lethe' entry holding the model file's description.

`--self-test` checks the name and shape comparison with the standard library only (no torch needed).
"""

import argparse
import copy
import json
import os
import pickle
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edm_pkl_to_safetensors import ConversionError, read_safetensors  # noqa: E402


def mismatches(expected, found):
    """Differences between two {name: shape} maps as readable lines; empty when they agree."""
    lines = []
    for name in sorted(set(expected) - set(found)):
        lines.append("missing tensor %r (shape %s)" % (name, list(expected[name])))
    for name in sorted(set(found) - set(expected)):
        lines.append("unexpected tensor %r (shape %s)" % (name, list(found[name])))
    for name in sorted(set(expected) & set(found)):
        if list(expected[name]) != list(found[name]):
            lines.append("tensor %r: expected shape %s, found %s" % (name, list(expected[name]), list(found[name])))
    return lines


def self_test():
    expected = {"model.enc.32x32_conv.weight": (8, 3, 3, 3), "model.map_label.weight": (32, 10)}
    assert mismatches(expected, dict(expected)) == []
    found = {"model.enc.32x32_conv.weight": (8, 3, 3, 3), "model.map_label.weight": (32, 9), "extra": (1,)}
    assert mismatches(expected, found) == [
        "unexpected tensor 'extra' (shape [1])",
        "tensor 'model.map_label.weight': expected shape [32, 10], found [32, 9]",
    ], mismatches(expected, found)
    assert mismatches(expected, {}) == [
        "missing tensor 'model.enc.32x32_conv.weight' (shape [8, 3, 3, 3])",
        "missing tensor 'model.map_label.weight' (shape [32, 10])",
    ]
    print("self-test passed: tensor names and shapes are compared")


def to_torch(dtype, shape, data, torch):
    dtypes = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
              "BOOL": torch.bool}
    if dtype not in dtypes:
        raise ConversionError("dtype %s has no torch equivalent" % dtype)
    if sys.byteorder != "little":
        raise ConversionError("big-endian machines are not supported")
    if not data:
        return torch.empty(shape, dtype=dtypes[dtype])
    return torch.frombuffer(bytearray(data), dtype=dtypes[dtype]).reshape(shape).clone()


def convert(args):
    for path in (args.parent, args.model):
        if not os.path.isfile(path):
            raise ConversionError("%s: no such file" % path)
    if os.path.exists(args.output) and not args.force:
        raise ConversionError("%s exists; pass --force to overwrite it" % args.output)
    if args.edm_root:
        sys.path.insert(0, os.path.abspath(args.edm_root))
    elif os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        import torch
        import dnnlib
        import torch_utils  # noqa: F401
    except ImportError as error:
        raise ConversionError("cannot import %s: run this script inside EDM's environment, from the EDM checkout "
                              "or with --edm-root /path/to/edm" % error.name)

    metadata, tensors = read_safetensors(args.model)
    with dnnlib.util.open_url(args.parent, verbose=False) as f:
        snapshot = pickle.load(f)
    if not isinstance(snapshot, dict) or "ema" not in snapshot:
        raise ConversionError("%s: not an EDM network snapshot (no 'ema' network)" % args.parent)
    net = copy.deepcopy(snapshot["ema"]).cpu()
    state = net.state_dict()
    problems = mismatches({k: tuple(v.shape) for k, v in state.items()},
                          {k: tuple(shape) for k, (_, shape, _) in tensors.items()})
    if problems:
        raise ConversionError("%s does not fit the network of %s:\n  %s"
                              % (args.model, args.parent, "\n  ".join(problems)))
    net.load_state_dict({k: to_torch(*tensors[k], torch).to(state[k].dtype) for k in state}, strict=True)
    net.eval().requires_grad_(False)
    result = dict(snapshot)
    result["ema"] = net
    description = metadata.get("lethe")
    result["lethe"] = json.loads(description) if description else {}

    directory = os.path.dirname(os.path.abspath(args.output))
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".pkl", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            pickle.dump(result, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, args.output)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    provenance = result["lethe"].get("provenance", {})
    print("wrote %s: %d tensors from %s (%s) in the network of %s"
          % (args.output, len(state), args.model, provenance.get("method", "no Lethe description"), args.parent))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write a Lethe EDM model file's weights into an EDM snapshot pickle for EDM's own code.")
    parser.add_argument("parent", nargs="?", help="the EDM snapshot the model came from (network-snapshot-*.pkl)")
    parser.add_argument("model", nargs="?", help="the Lethe model file (.safetensors)")
    parser.add_argument("output", nargs="?", help="the .pkl file to write")
    parser.add_argument("--edm-root", help="EDM checkout to import dnnlib and torch_utils from")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--self-test", action="store_true", help="check the comparison, then exit")
    args = parser.parse_args(argv)
    try:
        if args.self_test:
            self_test()
            return 0
        if not args.parent or not args.model or not args.output:
            parser.error("the parent snapshot, the model file and the output are required (or use --self-test)")
        convert(args)
        return 0
    except ConversionError as error:
        print("safetensors_to_edm_pkl: error: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
