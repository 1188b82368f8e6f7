#!/usr/bin/env python3
"""Convert the Inception-v3 detector FID is measured with into the safetensors file Lethe reads (--inception FILE).

Lethe never unpickles: a pickle can run arbitrary code. Run this script once, in a Python with PyTorch, on a
detector file you trust:

    python scripts/inception_to_safetensors.py pt_inception-2015-12-05-6726825d.pth inception-2015-12-05.safetensors
    python scripts/inception_to_safetensors.py inception-2015-12-05.pkl inception-2015-12-05.safetensors

Both inputs hold TensorFlow's 2015-12-05 Inception-v3 graph; the output holds its 94 convolutions with their batch
norms under the names of pytorch-fid's FIDInceptionV3 (Conv2d_1a_3x3.conv.weight, ..., Mixed_7c.branch_pool.bn.
running_var), float32, written directly in the safetensors format (the safetensors package is not needed).

* pytorch-fid's pt_inception-2015-12-05-6726825d.pth is a plain state dict (torch.load(..., map_location='cpu'))
  already under those names: its BasicConv2d tensors are kept, the classifier head fc.* and BatchNorm's
  num_batches_tracked are dropped.

* NVIDIA's inception-2015-12-05.pkl, which EDM's fid.py loads (StyleGAN3's metrics too; StyleGAN2-ADA's
  inception-2015-12-05.pt is the same network as a TorchScript archive and is read with torch.jit.load), unpickles
  to a TorchScript module. Its state_dict() uses names of its own, which Lethe does not know, so its tensors are
  mapped onto pytorch-fid's names BY ORDER: the file's tensors are grouped into convolutions (a 4-D weight with the
  batch-norm vectors next to it, told apart by the last part of their names: beta or bias, mean or running_mean,
  var or running_var, and gamma or weight where there is one, else the scale is 1); both networks list their
  convolutions block by block in the same order (the stem's five, Mixed_5b, ..., Mixed_7c); inside a block, each
  of pytorch-fid's convolutions takes the file's first unused convolution of the same shape, so a block that lists
  its branches in another order still maps. Every shape is checked, and anything that does not fit (a convolution
  too many or too few, a shape, a tensor of unknown role) stops the conversion with the names involved. The
  classifier head (output.* or fc.*) is dropped.

  THIS MAPPING HAS NOT BEEN RUN AGAINST THE REAL .pkl: it was written without access to the file and tested only on
  made-up state dicts (--self-test). To guard it, the converted weights are run on random images next to the
  detector's own forward pass (return_features=True, what EDM's fid.py calls) and nothing is written unless their
  2048 features agree to 1e-3 (relative to their largest value). That check runs the reference network in
  tests/reference/inception_reference.py, so run this script from a Lethe source checkout; pass --skip-check to
  write an unchecked file anyway.

`--self-test` checks the grouping and the mapping on made-up state dicts using only the standard library.
"""

import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edm_pkl_to_safetensors import ConversionError, sha256_of, tensor_record, write_safetensors  # noqa: E402

FEATURES = 2048
CHECK_TOLERANCE = 1e-3
PICKLE_EXTENSIONS = (".pkl", ".pickle")

# The last part of a batch-norm tensor's name -> its role.
ROLES = {"weight": "gamma", "gamma": "gamma", "scale": "gamma",
         "bias": "beta", "beta": "beta", "offset": "beta",
         "running_mean": "mean", "mean": "mean", "moving_mean": "mean",
         "running_var": "var", "var": "var", "variance": "var", "moving_variance": "var"}


# ----------------------------------------------------------------------------------------------------------------
# pytorch-fid's FIDInceptionV3

def fid_inception_blocks():
    """pytorch-fid's convolutions block by block, in its state-dict order: [(block, [(prefix, weight shape)])]."""
    blocks = []

    def block(name, convs):
        blocks.append((name, [(name + "." + conv if conv else name, [out, cin, kh, kw])
                              for conv, cin, out, kh, kw in convs]))

    for name, cin, out, k in (("Conv2d_1a_3x3", 3, 32, 3), ("Conv2d_2a_3x3", 32, 32, 3), ("Conv2d_2b_3x3", 32, 64, 3),
                              ("Conv2d_3b_1x1", 64, 80, 1), ("Conv2d_4a_3x3", 80, 192, 3)):
        block(name, [("", cin, out, k, k)])
    for name, cin, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        block(name, [("branch1x1", cin, 64, 1, 1), ("branch5x5_1", cin, 48, 1, 1), ("branch5x5_2", 48, 64, 5, 5),
                     ("branch3x3dbl_1", cin, 64, 1, 1), ("branch3x3dbl_2", 64, 96, 3, 3),
                     ("branch3x3dbl_3", 96, 96, 3, 3), ("branch_pool", cin, pool, 1, 1)])
    block("Mixed_6a", [("branch3x3", 288, 384, 3, 3), ("branch3x3dbl_1", 288, 64, 1, 1),
                       ("branch3x3dbl_2", 64, 96, 3, 3), ("branch3x3dbl_3", 96, 96, 3, 3)])
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        block(name, [("branch1x1", 768, 192, 1, 1), ("branch7x7_1", 768, c7, 1, 1), ("branch7x7_2", c7, c7, 1, 7),
                     ("branch7x7_3", c7, 192, 7, 1), ("branch7x7dbl_1", 768, c7, 1, 1),
                     ("branch7x7dbl_2", c7, c7, 7, 1), ("branch7x7dbl_3", c7, c7, 1, 7),
                     ("branch7x7dbl_4", c7, c7, 7, 1), ("branch7x7dbl_5", c7, 192, 1, 7),
                     ("branch_pool", 768, 192, 1, 1)])
    block("Mixed_7a", [("branch3x3_1", 768, 192, 1, 1), ("branch3x3_2", 192, 320, 3, 3),
                       ("branch7x7x3_1", 768, 192, 1, 1), ("branch7x7x3_2", 192, 192, 1, 7),
                       ("branch7x7x3_3", 192, 192, 7, 1), ("branch7x7x3_4", 192, 192, 3, 3)])
    for name, cin in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):
        block(name, [("branch1x1", cin, 320, 1, 1), ("branch3x3_1", cin, 384, 1, 1),
                     ("branch3x3_2a", 384, 384, 1, 3), ("branch3x3_2b", 384, 384, 3, 1),
                     ("branch3x3dbl_1", cin, 448, 1, 1), ("branch3x3dbl_2", 448, 384, 3, 3),
                     ("branch3x3dbl_3a", 384, 384, 1, 3), ("branch3x3dbl_3b", 384, 384, 3, 1),
                     ("branch_pool", cin, 192, 1, 1)])
    return blocks


# ----------------------------------------------------------------------------------------------------------------
# Mapping (names and shapes only, so that --self-test needs no torch)

def is_classifier(members):
    """A linear layer onto the 2048 features: [K, 2048] weight and [K] bias."""
    matrices = [m for m in members if len(m[2]) == 2]
    return (len(matrices) == 1 and matrices[0][2][1] == FEATURES
            and all(len(m[2]) == 2 or m[2] == [matrices[0][2][0]] for m in members))


def make_unit(weight, vectors):
    """One convolution: its weight's name and shape and the names of its batch-norm tensors by role."""
    _, weight_name, shape = weight
    unit = {"weight": weight_name, "shape": shape, "gamma": None, "beta": None, "mean": None, "var": None}
    for leaf, name, vector_shape in vectors:
        role = ROLES.get(leaf)
        if role is None:
            raise ConversionError("tensor %r: cannot tell which batch-norm tensor a %r is (known: %s)"
                                  % (name, leaf, ", ".join(sorted(ROLES))))
        if unit[role] is not None:
            raise ConversionError("tensors %r and %r both look like the %s of convolution %r"
                                  % (unit[role], name, role, weight_name))
        if vector_shape != [shape[0]]:
            raise ConversionError("tensor %r has shape %s, but its convolution %r has %d output channels"
                                  % (name, vector_shape, weight_name, shape[0]))
        unit[role] = name
    for role in ("beta", "mean", "var"):
        if unit[role] is None:
            raise ConversionError("convolution %r: no batch-norm %s next to it" % (weight_name, role))
    return unit


def group_units(entries):
    """Groups a state dict's (name, shape) entries, in its order, into convolutions; returns (units, skipped names).

    Tensors are grouped by their name without the last part; a group with only a 4-D weight takes the batch-norm
    vectors of the next group under the same parent (pytorch-fid's X.conv.weight and X.bn.*)."""
    groups, index, skipped = [], {}, []
    for name, shape in entries:
        prefix, _, leaf = name.rpartition(".")
        if leaf == "num_batches_tracked":
            skipped.append(name)
            continue
        if prefix not in index:
            index[prefix] = len(groups)
            groups.append((prefix, []))
        groups[index[prefix]][1].append((leaf, name, [int(d) for d in shape]))

    units, pending = [], None
    for prefix, members in groups:
        if is_classifier(members):
            skipped.extend(name for _, name, _ in members)
            continue
        weights = [m for m in members if len(m[2]) == 4]
        vectors = [m for m in members if len(m[2]) == 1]
        for leaf, name, shape in members:
            if len(shape) not in (1, 4) or (len(shape) == 4 and len(weights) > 1):
                raise ConversionError("tensor %r (shape %s) is neither one convolution's weight nor a batch-norm "
                                      "vector" % (name, shape))
        parent = prefix.rpartition(".")[0]
        if weights and not vectors:
            if pending is not None:
                raise ConversionError("convolution %r: no batch-norm tensors follow it" % pending[0][1])
            pending = (weights[0], parent)
            continue
        if not weights:
            if pending is None or pending[1] != parent:
                raise ConversionError("tensors %s: batch-norm vectors that follow no convolution"
                                      % ", ".join(repr(name) for _, name, _ in vectors))
            weight, pending = pending[0], None
        else:
            weight = weights[0]
        units.append(make_unit(weight, vectors))
    if pending is not None:
        raise ConversionError("convolution %r: no batch-norm tensors follow it" % pending[0][1])
    return units, skipped


def map_units(units):
    """[(pytorch-fid prefix, unit)] by order, block by block; inside a block by the first unused equal shape."""
    blocks = fid_inception_blocks()
    expected = sum(len(convs) for _, convs in blocks)
    if len(units) != expected:
        raise ConversionError("the file holds %d convolutions with batch norm, FID's Inception-v3 has %d"
                              % (len(units), expected))
    mapping, start = [], 0
    for block, convs in blocks:
        window = units[start:start + len(convs)]
        used = [False] * len(window)
        for prefix, shape in convs:
            for i, unit in enumerate(window):
                if not used[i] and unit["shape"] == shape:
                    used[i] = True
                    mapping.append((prefix, unit))
                    break
            else:
                found = ", ".join("%s %s" % (u["weight"], u["shape"]) for u, u_used in zip(window, used) if not u_used)
                raise ConversionError("%s (convolutions %d to %d of the file): no convolution of shape %s "
                                      "for %s.conv.weight; unused there: %s"
                                      % (block, start + 1, start + len(convs), shape, prefix, found))
        start += len(convs)
    return mapping


def target_names(prefix):
    return {"weight": prefix + ".conv.weight", "gamma": prefix + ".bn.weight", "beta": prefix + ".bn.bias",
            "mean": prefix + ".bn.running_mean", "var": prefix + ".bn.running_var"}


def uses_pytorch_fid_names(mapping):
    return all(unit["weight"] == target_names(prefix)["weight"] for prefix, unit in mapping)


# ----------------------------------------------------------------------------------------------------------------
# Conversion

def reference_network():
    """tests/reference/inception_reference.py of the Lethe checkout this script is in, or None."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference",
                        "inception_reference.py")
    if not os.path.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location("inception_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_against_detector(detector, weights, torch):
    """Refuses weights whose features differ from the detector's own on random images; returns the difference."""
    reference = reference_network()
    if reference is None:
        raise ConversionError("tests/reference/inception_reference.py is not next to this script, so the mapped "
                              "weights cannot be checked against the detector; run the script from a Lethe source "
                              "checkout, or pass --skip-check to write them unchecked")
    generator = torch.Generator().manual_seed(2015)
    images = torch.randint(0, 256, (2, 3, 64, 48), dtype=torch.uint8, generator=generator)
    try:
        with torch.no_grad():
            theirs = detector(images, return_features=True).float()
    except Exception as error:  # noqa: BLE001  (any failure of foreign code)
        raise ConversionError("the detector could not be run on the CPU to check the mapping (%s); pass "
                              "--skip-check to write the weights unchecked" % error)
    ours = reference.features(weights, images, "edm")
    if tuple(theirs.shape) != tuple(ours.shape):
        raise ConversionError("the detector returned features of shape %s, expected %s"
                              % (list(theirs.shape), list(ours.shape)))
    difference = float((ours - theirs).abs().max() / theirs.abs().max())
    if not difference < CHECK_TOLERANCE:
        raise ConversionError("the mapped weights give features that differ from the detector's by %.3g (relative; "
                              "tolerance %g): the by-order mapping or Lethe's reading of the detector's input "
                              "preparation is wrong for this file; nothing was written (please report this)"
                              % (difference, CHECK_TOLERANCE))
    return difference


def load_source(path, edm_root, torch):
    """(state dict, TorchScript module or None) of the input file."""
    if path.lower().endswith(PICKLE_EXTENSIONS):
        if edm_root:
            sys.path.insert(0, os.path.abspath(edm_root))
        import pickle
        try:
            with open(path, "rb") as f:
                detector = pickle.load(f)
        except (ImportError, AttributeError) as error:
            raise ConversionError("cannot unpickle %s (%s): run this script inside EDM's environment, or pass "
                                  "--edm-root /path/to/edm" % (path, error))
        return detector.state_dict(), detector
    try:
        detector = torch.jit.load(path, map_location="cpu")
        return detector.state_dict(), detector
    except Exception:  # noqa: BLE001  (not a TorchScript archive: a plain state dict)
        pass
    loaded = torch.load(path, map_location="cpu")
    if hasattr(loaded, "state_dict"):
        return loaded.state_dict(), None
    if not isinstance(loaded, dict):
        raise ConversionError("%s holds a %s, not a state dict or a module" % (path, type(loaded).__name__))
    return loaded, None


def convert(args):
    if not os.path.isfile(args.input):
        raise ConversionError("%s: no such file" % args.input)
    if os.path.abspath(args.output) == os.path.abspath(args.input):
        raise ConversionError("the output would overwrite the input")
    if os.path.exists(args.output) and not args.force:
        raise ConversionError("%s exists; pass --force to overwrite it" % args.output)
    try:
        import torch
    except ImportError:
        raise ConversionError("cannot import torch: run this script in a Python environment with PyTorch")

    state, detector = load_source(args.input, args.edm_root, torch)
    for name, value in state.items():
        if not torch.is_tensor(value):
            raise ConversionError("%r in the state dict is a %s, not a tensor" % (name, type(value).__name__))
    units, skipped = group_units([(name, list(value.shape)) for name, value in state.items()])
    mapping = map_units(units)
    by_name = uses_pytorch_fid_names(mapping)

    weights, no_scale = {}, 0
    for prefix, unit in mapping:
        for role, target in target_names(prefix).items():
            if unit[role] is None:  # TensorFlow's graph has no batch-norm scale
                weights[target] = torch.ones(unit["shape"][0])
                no_scale += 1
                continue
            value = state[unit[role]].detach().cpu().float().contiguous()
            if not bool(torch.isfinite(value).all()):
                raise ConversionError("tensor %r (for %s) holds values that are not finite" % (unit[role], target))
            if role == "var" and not bool((value > 0).all()):
                raise ConversionError("tensor %r (for %s) holds variances that are not positive: it is probably "
                                      "not a variance" % (unit[role], target))
            weights[target] = value

    if detector is not None and not args.skip_check:
        difference = check_against_detector(detector, weights, torch)
        print("checked: the converted weights reproduce the detector's features to %.2g (relative)" % difference)
    elif detector is not None:
        print("warning: the by-order mapping was NOT checked against the detector (--skip-check)")

    metadata = {"source_file": os.path.basename(args.input), "source_sha256": sha256_of(args.input),
                "mapping": "by name" if by_name else "by order",
                "converted_by": "scripts/inception_to_safetensors.py"}
    write_safetensors(args.output, [tensor_record(name, value, torch) for name, value in weights.items()], metadata)
    print("wrote %s: %d tensors of %d convolutions mapped %s; dropped %d tensors (%s)%s"
          % (args.output, len(weights), len(mapping), "by name" if by_name else "by order", len(skipped),
             ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else ""),
             "; %d batch norms without a scale got 1" % no_scale if no_scale else ""))


# ----------------------------------------------------------------------------------------------------------------
# Self-test

def self_test():
    """The grouping and mapping on made-up state dicts; raises AssertionError on any difference."""
    blocks = fid_inception_blocks()
    assert sum(len(convs) for _, convs in blocks) == 94

    # pytorch-fid's own layout: mapped by name, step counters and the head dropped.
    entries = []
    for _, convs in blocks:
        for prefix, shape in convs:
            entries.append((prefix + ".conv.weight", shape))
            for leaf in ("weight", "bias", "running_mean", "running_var"):
                entries.append((prefix + ".bn." + leaf, [shape[0]]))
            entries.append((prefix + ".bn.num_batches_tracked", []))
    entries += [("fc.weight", [1008, FEATURES]), ("fc.bias", [1008])]
    units, skipped = group_units(entries)
    mapping = map_units(units)
    assert uses_pytorch_fid_names(mapping)
    assert all(unit[role] == target_names(prefix)[role] for prefix, unit in mapping for role in unit
               if role != "shape")
    assert len(skipped) == 96 and "fc.weight" in skipped

    # A TorchScript-like layout with names of its own: one module per convolution holding weight, beta, mean and
    # var (no scale), the E blocks listing their 3×3 towers before their 1×1 branch, a classifier "output".
    e_order = ["branch3x3_1", "branch3x3dbl_1", "branch3x3dbl_2", "branch1x1", "branch3x3_2a", "branch3x3_2b",
               "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"]
    entries, truth = [], {}
    for b, (block, convs) in enumerate(blocks):
        shapes = dict(convs)
        order = [block + "." + c for c in e_order] if block in ("Mixed_7b", "Mixed_7c") else [p for p, _ in convs]
        for c, prefix in enumerate(order):
            name = "layers.mixed_%d.conv_%d" % (b, c)
            truth[prefix] = name + ".weight"
            entries.append((name + ".weight", shapes[prefix]))
            for leaf in ("beta", "mean", "var"):
                entries.append((name + "." + leaf, [shapes[prefix][0]]))
    entries += [("output.weight", [1008, FEATURES]), ("output.bias", [1008])]
    units, skipped = group_units(entries)
    mapping = map_units(units)
    assert not uses_pytorch_fid_names(mapping)
    assert {prefix: unit["weight"] for prefix, unit in mapping} == truth
    assert all(unit["gamma"] is None and unit["var"].endswith(".var") for _, unit in mapping)
    assert skipped == ["output.weight", "output.bias"]

    def refused(broken, needle):
        try:
            map_units(group_units(broken)[0])
        except ConversionError as error:
            assert needle in str(error), str(error)
        else:
            raise AssertionError("accepted a state dict that should fail with %r" % needle)

    flipped = [(n, [s[0], s[1], s[3], s[2]] if n == truth["Mixed_6b.branch7x7_2"] else s) for n, s in entries]
    refused(flipped, "Mixed_6b (convolutions 31 to 40 of the file): no convolution of shape [128, 128, 1, 7]")
    refused([e for e in entries if not e[0].startswith("layers.mixed_0.")], "the file holds 93 convolutions")
    refused(entries + [("layers.extra.scale_factor", [3])], "batch-norm vectors that follow no convolution")
    refused([(n.replace(".mean", ".average"), s) for n, s in entries], "cannot tell which batch-norm tensor")
    refused([e for e in entries if not e[0].endswith(".var")], "no batch-norm var next to it")
    print("self-test passed: pytorch-fid's names map by name, a reordered TorchScript-like layout maps by order, "
          "and broken layouts are refused")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert FID's Inception-v3 detector (pytorch-fid's pt_inception-2015-12-05-6726825d.pth or "
                    "EDM's inception-2015-12-05.pkl) to the safetensors file Lethe reads. Run it in a Python "
                    "environment with PyTorch; Lethe itself never loads pickles.")
    parser.add_argument("input", nargs="?", help="the detector to convert (.pth, .pkl or a TorchScript .pt)")
    parser.add_argument("output", nargs="?", help="the .safetensors file to write")
    parser.add_argument("--edm-root", help="EDM checkout to put on the import path while unpickling a .pkl")
    parser.add_argument("--skip-check", action="store_true",
                        help="write a by-order mapping without checking it against the detector's own features")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--self-test", action="store_true",
                        help="check the grouping and mapping with the standard library only, then exit")
    args = parser.parse_args(argv)

    try:
        if args.self_test:
            self_test()
            return 0
        if not args.input or not args.output:
            parser.error("the detector and the output file are required (or use --self-test)")
        convert(args)
        return 0
    except ConversionError as error:
        print("inception_to_safetensors: error: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
