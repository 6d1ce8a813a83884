"""Writes small checkpoints with REAL torch.save in both container formats that published weight files use:
the zip format (torch >= 1.6, the default) and the legacy stream format (`_use_new_zipfile_serialization=False`,
the format of older published files such as torch-fidelity's Inception weights). Same value in both; its
tensors (values, dtypes, shapes) are also written as JSON so the TypeScript reader is checked against torch
itself, not only against the repository's own builders.

Usage (any machine with torch; the lent GPU machine has torch 2.11):
  python3 make_torch_save_files.py --out packages/core/test/fixtures/torch-save
"""
import argparse
import json
import os

import torch


def value():
    g = torch.Generator().manual_seed(7)
    conv = torch.randn(4, 3, 3, 3, generator=g)
    fc = torch.randn(6, 5, generator=g)
    state = {
        # Inception / VGG16-like key names (torch-fidelity, torchvision)
        "Conv2d_1a_3x3.conv.weight": conv,
        "Conv2d_1a_3x3.bn.running_var": torch.rand(4, generator=g) + 0.5,
        "Conv2d_1a_3x3.bn.num_batches_tracked": torch.tensor(0, dtype=torch.long),
        "features.0.bias": torch.randn(4, generator=g).to(torch.float16),
        "classifier.6.weight": fc.t(),  # a transposed view: non-contiguous strides in the file
        "fc.bias": torch.arange(10, dtype=torch.float32)[2:8:2],  # an offset + stride view of a larger storage
        "shared.a": conv[1],  # two tensors sharing one storage
        "steps": torch.tensor([-3, 2**40], dtype=torch.long),
        "mask": torch.tensor([True, False, True]),
        "bytes": torch.tensor([9, 250], dtype=torch.uint8),
        "double": torch.tensor([[0.1, -2.5]], dtype=torch.float64),
    }
    return {"state_dict": state, "epoch": 12, "name": "fae", "lr": (0.1, 0.01)}


def tensor_json(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "data": t.reshape(-1).tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    v = value()
    torch.save(v, os.path.join(a.out, "zip.pt"))
    torch.save(v, os.path.join(a.out, "legacy.pt"), _use_new_zipfile_serialization=False)
    for name in ("zip.pt", "legacy.pt"):  # both read back by torch itself
        back = torch.load(os.path.join(a.out, name), weights_only=True)
        for k, t in v["state_dict"].items():
            assert torch.equal(back["state_dict"][k], t), (name, k)
    expected = {
        "torch": torch.__version__,
        "state_dict": {k: tensor_json(t) for k, t in v["state_dict"].items()},
        "epoch": v["epoch"],
        "name": v["name"],
        "lr": list(v["lr"]),
    }
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("wrote", sorted(os.listdir(a.out)))


if __name__ == "__main__":
    main()
