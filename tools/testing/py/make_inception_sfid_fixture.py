"""Makes the fixture eval/inception_sfid: torch-fidelity's own FeatureExtractorInceptionV3 with a forward
hook on the tap @fae/eval uses for sFID, on the procedural weights and the images of eval/inception_fid.

What the tap is (read from the sources, see packages/eval/README.md):
- openai/guided-diffusion evaluations/evaluator.py: FID_SPATIAL_NAME = "mixed_6/conv:0" in TF's
  classify_image_graph_def.pb; _create_feature_graph keeps spatial[..., :7] (NHWC) and
  read_activations flattens it per image: 17 * 17 * 7 = 2023 values in (h, w, c) order.
- toshas/torch-fidelity utils/util_convert_inception_weights.py maps the TF scope mixed_6/conv/{conv2d_params,
  batchnorm} to Mixed_6d.branch1x1.{conv,bn}: the node `mixed_6/conv` is that unit's output (conv, BN, ReLU),
  i.e. the output of torch-fidelity's Mixed_6d.branch1x1 (BasicConv2d), hooked here.

Usage (the GPU machine has torch; torch_fidelity is imported from an installed copy or from --tf-src,
a folder holding upstream's torch_fidelity/ sources; only the Inception module and its helpers load):
  python3 make_inception_sfid_fixture.py --src <inception_fid fixture dir> --out <dir> [--tf-src DIR]
Writes into --out only what the source fixture lacks: spatial.safetensors (`output.<i>.spatial` per input
of the source fixture, float32 [B, 2023]) and meta.json. The inputs and weights stay in the source fixture
(tests read both). Checks first that the procedural weights reproduce the source fixture's six outputs.
numpy and torch only: safetensors files are read and written here (the format is 8 bytes of header
length, a JSON header, raw little-endian data), so the `safetensors` package is not needed.
"""
import argparse
import importlib
import json
import os
import sys
import tempfile
import types

import numpy as np
import torch

ST_DTYPES = {"F32": np.float32, "F64": np.float64, "U8": np.uint8, "I32": np.int32, "I64": np.int64}


def load_file(path):
    """A safetensors file as {name: numpy array}."""
    raw = open(path, "rb").read()
    n = int(np.frombuffer(raw[:8], dtype="<u8")[0])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(ST_DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(raw[8 + n + start : 8 + n + end], dtype=dtype).reshape(info["shape"]).copy()
    return out


def save_file(tensors, path):
    """Writes {name: numpy array} as safetensors (names sorted, data contiguous), atomically."""
    names = {np.dtype(v).name: k for k, v in ST_DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(np.array([len(text)], dtype="<u8").tobytes() + text + b"".join(chunks))
    os.replace(tmp, path)

FEATURES = ["64", "192", "768", "2048", "logits_unbiased", "logits"]


def fmix32(h):
    h = h.astype(np.uint64) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def procedural(spec):
    """float32(offset + scale * (2u - 1)), u = fmix32((i * 0x9E3779B1 + seed * 0x85EBCA77) mod 2^32) / 2^32."""
    n = int(np.prod(spec["shape"])) if spec["shape"] else 1
    i = np.arange(n, dtype=np.uint64)
    base = (spec["seed"] * 0x85EBCA77) & 0xFFFFFFFF
    u = fmix32((i * 0x9E3779B1 + base) & 0xFFFFFFFF).astype(np.float64) / 4294967296.0
    return (spec["offset"] + spec["scale"] * (2 * u - 1)).astype(np.float32).reshape(spec["shape"])


def import_inception(tf_src):
    try:
        import torch_fidelity  # noqa: F401  (an installed copy)
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        return FeatureExtractorInceptionV3, "installed torch_fidelity " + getattr(torch_fidelity, "__version__", "?")
    except Exception as e:  # not installed: load the upstream module files without the package __init__
        if not tf_src:
            raise SystemExit(f"torch_fidelity is not installed ({e}) and no --tf-src was given")
        pkg = types.ModuleType("torch_fidelity")
        pkg.__path__ = [os.path.join(tf_src, "torch_fidelity")]
        sys.modules["torch_fidelity"] = pkg
        mod = importlib.import_module("torch_fidelity.feature_extractor_inceptionv3")
        version = open(os.path.join(tf_src, "torch_fidelity", "version.py")).read().strip()
        return mod.FeatureExtractorInceptionV3, f"upstream sources ({version}), not installed: {e}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tf-src", default=None)
    a = ap.parse_args()
    Inception, origin = import_inception(a.tf_src)
    spec = json.load(open(os.path.join(a.src, "weights.json")))
    state = {k: torch.from_numpy(procedural(v)) for k, v in spec.items()}
    # BatchNorm's num_batches_tracked counters are not in weights.json: torch's initial value, 0.
    for k in [k for k in state if k.endswith(".running_var")]:
        state[k[: -len("running_var")] + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.pth")
        torch.save(state, path)
        model = Inception("inception-v3-compat", FEATURES, feature_extractor_weights_path=path)  # strict load
    tap = {}
    model.Mixed_6d.branch1x1.register_forward_hook(lambda m, i, o: tap.__setitem__("x", o.detach().clone()))
    io_src = load_file(os.path.join(a.src, "io.safetensors"))
    out = {}
    worst = 0.0
    inputs = sorted(k for k in io_src if k.startswith("input.images_"))
    for key in inputs:
        idx = key[len("input.images_"):]
        images = torch.from_numpy(io_src[key])  # uint8 [B, 3, H, W]
        with torch.no_grad():
            feats = model(images)
        for name, f in zip(FEATURES, feats):
            f = f.cpu().numpy().astype(np.float32)
            ref = io_src[f"output.{idx}.{name}"]
            worst = max(worst, float(np.abs(f - ref).max() / max(np.abs(ref).max(), 1e-30)))
        x = tap["x"]  # [B, 192, 17, 17] NCHW
        assert tuple(x.shape[1:]) == (192, 17, 17), x.shape
        out[f"output.{idx}.spatial"] = x[:, :7].permute(0, 2, 3, 1).reshape(x.shape[0], -1).cpu().numpy().astype(np.float32)
    print(f"procedural weights reproduce {a.src}: worst relative error {worst:.3e} over {len(inputs)} inputs")
    assert worst < 1e-4, "the weights do not reproduce the source fixture"
    os.makedirs(a.out, exist_ok=True)
    save_file(out, os.path.join(a.out, "spatial.safetensors"))
    meta = {
        "notes": "torch-fidelity FeatureExtractorInceptionV3 on the procedural weights and images of eval/inception_fid "
        "(weights.json and io.safetensors there; formula in its meta.json). output.<i>.spatial = a forward hook on Mixed_6d.branch1x1 "
        "(BasicConv2d: conv, BN eps 1e-3, ReLU) = TF classify_image_graph_def 'mixed_6/conv:0' (torch-fidelity "
        "utils/util_convert_inception_weights.py maps mixed_6/conv -> Mixed_6d.branch1x1), first 7 channels, "
        "permuted to NHWC and flattened per image (17*17*7 = 2023, (h, w, c) order) as the ADM evaluator "
        "(guided-diffusion evaluations/evaluator.py: spatial[..., :7], reshape [B, -1]). The six torch-fidelity "
        "features were recomputed and checked against eval/inception_fid (worst relative error below).",
        "torch": torch.__version__,
        "torch_fidelity": origin,
        "reproduces_inception_fid_worst_rel": worst,
    }
    json.dump(meta, open(os.path.join(a.out, "meta.json"), "w"), indent=1)
    print("wrote", a.out, sorted(out))


if __name__ == "__main__":
    main()
