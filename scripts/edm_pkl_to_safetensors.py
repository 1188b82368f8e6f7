#!/usr/bin/env python3
"""Convert an NVlabs EDM snapshot (network-snapshot-*.pkl) into a Lethe model file (.safetensors).

Lethe never unpickles: a pickle can run arbitrary code, and EDM's pickles embed the source of their classes.
Run this script once, in your own EDM environment (a checkout of https://github.com/NVlabs/edm with its Python
packages), on a checkpoint you trust:

    cd /path/to/edm
    python /path/to/lethe/scripts/edm_pkl_to_safetensors.py \\
        edm-cifar10-32x32-cond-vp.pkl edm-cifar10-32x32-cond-vp.safetensors

or pass --edm-root /path/to/edm from anywhere. The output holds the 'ema' network's state_dict under EDM's own
tensor names plus a description Lethe reads (architecture = EDM's init_kwargs, class names, data set and
provenance). It is written directly in the safetensors format, so the safetensors package is not needed.

`--self-test` checks the writer and a reader using only the standard library (no torch needed).
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import shlex
import struct
import sys
import tempfile

FORMAT_TAG = "lethe.model"
FORMAT_VERSION = 1
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# The names the RGD paper's zero-shot CLIP prompts use ("a photo of a plane"; CIFAR/predictor.py).
CIFAR10_ZERO_SHOT_NAMES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# safetensors dtype name -> bytes per element.
DTYPE_SIZES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "U16": 2, "U32": 4, "U64": 8,
}


class ConversionError(Exception):
    """A problem the user can fix; printed without a traceback."""


# ----------------------------------------------------------------------------------------------------------------
# safetensors writing and reading (standard library only)

def write_safetensors(path, tensors, metadata):
    """Write [(name, dtype, shape, raw little-endian bytes)] and a str->str metadata dict, atomically.

    Layout: 8-byte little-endian header length N, N bytes of JSON padded with spaces so the data starts at an
    8-byte boundary, then the tensors' bytes back to back in the given order.
    """
    header = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConversionError("metadata keys and values must be strings, got %r: %r" % (key, value))
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, dtype, shape, data in tensors:
        if name == "__metadata__" or name in header:
            raise ConversionError("tensor name %r is used twice or reserved" % name)
        if dtype not in DTYPE_SIZES:
            raise ConversionError("tensor %r has dtype %r, which safetensors cannot store" % (name, dtype))
        count = 1
        for dim in shape:
            count *= int(dim)
        if count * DTYPE_SIZES[dtype] != len(data):
            raise ConversionError("tensor %r: %d bytes do not match shape %s of %s" % (name, len(data), list(shape), dtype))
        header[name] = {"dtype": dtype, "shape": [int(d) for d in shape], "data_offsets": [offset, offset + len(data)]}
        offset += len(data)

    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)

    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            for _, _, _, data in tensors:
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read_safetensors(path):
    """Read a safetensors file: returns (metadata dict, {name: (dtype, shape, bytes)}), checking the layout."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ConversionError("%s: shorter than the 8-byte header length" % path)
    (length,) = struct.unpack("<Q", blob[:8])
    if 8 + length > len(blob):
        raise ConversionError("%s: header length %d exceeds the file size %d" % (path, length, len(blob)))
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    data = blob[8 + length:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    expected_begin = 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = entry["data_offsets"]
        count = 1
        for dim in entry["shape"]:
            count *= dim
        if begin != expected_begin or end - begin != count * DTYPE_SIZES[entry["dtype"]]:
            raise ConversionError("%s: tensor %r has inconsistent offsets" % (path, name))
        tensors[name] = (entry["dtype"], entry["shape"], data[begin:end])
        expected_begin = end
    if expected_begin != len(data):
        raise ConversionError("%s: %d trailing bytes after the last tensor" % (path, len(data) - expected_begin))
    return metadata, tensors


def self_test():
    """Write and re-read a tiny file with the writer above; raises AssertionError on any difference."""
    f32 = struct.pack("<6f", 0.0, 1.5, -2.0, 3.25, 1e-3, -7.0)
    i64 = struct.pack("<3q", -1, 0, 2 ** 40)
    f16 = struct.pack("<e", 0.5)
    tensors = [("model.map_layer0.weight", "F32", [2, 3], f32),
               ("counts", "I64", [3], i64),
               ("scalar", "F16", [], f16),
               ("empty", "F32", [0, 4], b"")]
    metadata = {"format": FORMAT_TAG, "lethe": json.dumps({"format_version": FORMAT_VERSION, "kind": "edm"})}
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "tiny.safetensors")
        write_safetensors(path, tensors, metadata)
        with open(path, "rb") as f:
            raw = f.read()
        (length,) = struct.unpack("<Q", raw[:8])
        assert (8 + length) % 8 == 0, "data region is not 8-byte aligned"
        assert raw[8 + length - 1:8 + length] in (b" ", b"}"), "header does not end in JSON or padding"
        read_metadata, read_tensors = read_safetensors(path)
        assert read_metadata == metadata, read_metadata
        assert set(read_tensors) == {name for name, _, _, _ in tensors}
        for name, dtype, shape, data in tensors:
            assert read_tensors[name] == (dtype, shape, data), name
        assert struct.unpack("<6f", read_tensors["model.map_layer0.weight"][2])[1] == 1.5
        assert os.listdir(directory) == ["tiny.safetensors"], "temporary file left behind"
        try:
            write_safetensors(path, [("x", "F32", [2], b"\0" * 4)], {})
        except ConversionError:
            pass
        else:
            raise AssertionError("a byte count that does not match the shape was accepted")
    print("self-test passed: safetensors writer and reader agree")


# ----------------------------------------------------------------------------------------------------------------
# Conversion

def json_safe(value, where):
    """EDM's kwargs (EasyDicts, tuples, numpy scalars) as plain JSON values; non-finite floats are refused."""
    if isinstance(value, dict):
        return {str(k): json_safe(v, "%s.%s" % (where, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, "%s[%d]" % (where, i)) for i, v in enumerate(value)]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConversionError("%s is %r, which JSON cannot hold" % (where, value))
        return float(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        return json_safe(value.item(), where)
    raise ConversionError("%s has a value of type %s that cannot be written as JSON" % (where, type(value).__name__))


def architecture_of(net):
    """EDM's net.init_kwargs as JSON, with model_type made explicit and an infinite sigma_max left out."""
    if type(net).__name__ != "EDMPrecond":
        raise ConversionError("the network is %s; Lethe implements EDMPrecond only" % type(net).__name__)
    kwargs = getattr(net, "init_kwargs", None)
    if kwargs is None:
        raise ConversionError("the network has no init_kwargs; was it saved by EDM's training/training_loop.py?")
    kwargs = dict(kwargs)
    kwargs.pop("class_name", None)
    # EDMPrecond's own default model_type is DhariwalUNet; record the class actually built.
    kwargs["model_type"] = type(net.model).__name__
    if kwargs["model_type"] != "SongUNet":
        raise ConversionError("the network's model is %s; Lethe builds SongUNet (DDPM++/NCSN++) only"
                              % kwargs["model_type"])
    for key in ("sigma_min", "sigma_max"):
        if key in kwargs and isinstance(kwargs[key], float) and math.isinf(kwargs[key]):
            del kwargs[key]  # Lethe reads an absent sigma_max as infinity, EDM's default
    return json_safe(kwargs, "init_kwargs")


def tensor_record(name, tensor, torch):
    """(name, safetensors dtype, shape, little-endian bytes) for one CPU tensor."""
    names = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
             torch.bool: "BOOL"}
    if tensor.dtype not in names:
        raise ConversionError("tensor %r has dtype %s, which safetensors cannot store" % (name, tensor.dtype))
    t = tensor.detach().cpu().contiguous()
    # numpy has no bfloat16: move its bits as int16, which has the same size and byte order.
    array = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()
    if sys.byteorder != "little":
        array = array.byteswap()
    return (name, names[tensor.dtype], list(t.shape), array.tobytes())


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_of(snapshot, architecture, name):
    kwargs = snapshot.get("dataset_kwargs") if isinstance(snapshot, dict) else None
    if not name:
        source = str((kwargs or {}).get("path", ""))
        base = os.path.basename(source.rstrip("/\\"))
        name = os.path.splitext(base)[0] if base else "unknown"
    dataset = {"name": name, "resolution": architecture.get("img_resolution"),
               "channels": architecture.get("img_channels")}
    if kwargs:
        try:
            dataset["edm_dataset_kwargs"] = json_safe(dict(kwargs), "dataset_kwargs")
        except ConversionError:
            pass  # informational only
    return dataset


def convert(args):
    if not os.path.isfile(args.pkl):
        raise ConversionError("%s: no such file" % args.pkl)
    if os.path.abspath(args.output) == os.path.abspath(args.pkl):
        raise ConversionError("the output would overwrite the input")
    if os.path.exists(args.output) and not args.force:
        raise ConversionError("%s exists; pass --force to overwrite it" % args.output)

    if args.edm_root:
        sys.path.insert(0, os.path.abspath(args.edm_root))
    try:
        import pickle
        import torch
        import dnnlib  # noqa: F401  (EDM's pickles refer to it)
        import torch_utils  # noqa: F401
    except ImportError as error:
        raise ConversionError("cannot import %s: run this script inside EDM's environment, from the EDM checkout "
                              "or with --edm-root /path/to/edm" % error.name)

    with dnnlib.util.open_url(args.pkl, verbose=False) as f:
        snapshot = pickle.load(f)
    if not isinstance(snapshot, dict) or args.network_key not in snapshot:
        keys = sorted(snapshot) if isinstance(snapshot, dict) else type(snapshot).__name__
        raise ConversionError("%s: no %r network in the snapshot (found %s)" % (args.pkl, args.network_key, keys))
    net = snapshot[args.network_key]

    architecture = architecture_of(net)
    label_dim = int(architecture.get("label_dim", 0))
    description = {
        "format_version": FORMAT_VERSION,
        "kind": "edm",
        "architecture": architecture,
        "classes": CIFAR10_CLASSES if label_dim == 10 else [],
        "dataset": dataset_of(snapshot, architecture, args.dataset_name),
        "provenance": {
            "method": "converted from NVlabs EDM",
            "parent_sha256": sha256_of(args.pkl),
            "command": shlex.join(sys.argv) if hasattr(shlex, "join") else " ".join(sys.argv),
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seed": 0,
            "steps": 0,
            "images_seen": 0,
            "wall_seconds": 0.0,
            "hyperparameters": {"network_key": args.network_key, "source_file": os.path.basename(args.pkl)},
        },
    }
    if label_dim == 10:
        description["zero_shot_names"] = CIFAR10_ZERO_SHOT_NAMES
    tensors = [tensor_record(name, tensor, torch) for name, tensor in net.state_dict().items()]
    write_safetensors(args.output, tensors, {"format": FORMAT_TAG, "lethe": json.dumps(description)})

    parameters = sum(p.numel() for p in net.parameters())
    print("wrote %s: %d tensors, %d parameters, architecture %s"
          % (args.output, len(tensors), parameters, json.dumps(architecture, sort_keys=True)))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert an NVlabs EDM network-snapshot-*.pkl to a Lethe model file (safetensors). "
                    "Run it in EDM's Python environment; Lethe itself never loads pickles.")
    parser.add_argument("pkl", nargs="?", help="EDM snapshot (network-snapshot-*.pkl) to convert")
    parser.add_argument("output", nargs="?", help="the .safetensors file to write")
    parser.add_argument("--edm-root", help="EDM checkout to import dnnlib and torch_utils from "
                                           "(default: the current directory / PYTHONPATH)")
    parser.add_argument("--network-key", default="ema", help="which network of the snapshot to take (default: ema)")
    parser.add_argument("--dataset-name", help="data set name to record (default: from the snapshot's dataset path)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--self-test", action="store_true",
                        help="check the safetensors writer with the standard library only, then exit")
    args = parser.parse_args(argv)

    try:
        if args.self_test:
            self_test()
            return 0
        if not args.pkl or not args.output:
            parser.error("the snapshot and the output file are required (or use --self-test)")
        if not args.edm_root and "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        convert(args)
        return 0
    except ConversionError as error:
        print("edm_pkl_to_safetensors: error: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
