"""PyTorch side of the GPU benchmark: the same shapes as tools/bench/src/gpu-bench.ts, timed with CUDA
events (median of repeats after warm-up), in fp32 with TF32 off, TF32, and bf16 autocast:
  - matmul and a ViT-B block (the kernel-level workloads), shapes below;
  - the whole-model workloads of issue #10 (torch_models.py; shapes in model_shapes.py, the same lists
    as the tfjs side's tools/bench/src/model-shapes.ts: --check-shapes compares them, and every
    model's parameter count is checked against the tfjs presets' count).
Usage: python3 torch_bench.py [--out DIR] [--quick] [--check-shapes model-shapes.json]
                              [--device cuda|cpu] [--modes fp32,tf32,bf16] [--no-micro] [--no-models] [--int8]
(--device cpu --quick is a local smoke test of this script; its numbers mean nothing.)
--int8 (issue #19) adds `int8` to torch.json: torch._int_mm (int8 x int8 -> int32), the same plus a
dequantising epilogue, and bf16 / fp32 matmul on the shapes of tools/bench/src/int8-bench.ts."""
import argparse
import contextlib
import datetime
import json
import os
import platform
import sys
import time

import torch
import torch.nn as nn

from model_shapes import SHAPES
from torch_models import build_model, parameter_count

ap = argparse.ArgumentParser()
ap.add_argument('--out', default='bench-out')
ap.add_argument('--quick', action='store_true', help='tiny model configs, batch 1 (and small kernel shapes)')
ap.add_argument('--device', default='cuda')
ap.add_argument('--modes', default='fp32,tf32,bf16')
ap.add_argument('--check-shapes', default=None, help="model-shapes.json from tools/bench/src/model-shapes.ts: abort unless equal to SHAPES")
ap.add_argument('--no-micro', action='store_true')
ap.add_argument('--no-models', action='store_true')
ap.add_argument('--int8', action='store_true', help='also time torch._int_mm and bf16 matmul on the int8-bench shapes')
args = ap.parse_args()
dev = args.device
cuda = dev.startswith('cuda')
modes = args.modes.split(',')

# Kernel-level shapes (gpu-bench.ts: the same lists).
MATMUL_SIZES = (256, 512) if args.quick else (1024, 2048, 4096)
BLOCK = (2, 64, 192, 3) if args.quick else (64, 256, 768, 12)  # B, T, D, heads
MODEL_SHAPES = SHAPES['gpu_quick' if args.quick else 'gpu_full']


def check_shapes(path):
    ts = json.load(open(path))
    bad = []
    for key in ('gpu_full', 'gpu_quick'):
        theirs, ours = ts.get(key, []), SHAPES[key]
        if len(theirs) != len(ours):
            bad.append(f'{key}: {len(theirs)} workloads in {path}, {len(ours)} here')
        for a, b in zip(theirs, ours):
            if a != b:
                keys = sorted(set(a) | set(b), key=str)
                bad.append(f"{key} / {b.get('name')}: " + ', '.join(f'{k}: tfjs {a.get(k)!r} vs torch {b.get(k)!r}' for k in keys if a.get(k) != b.get(k)))
    if bad:
        print('model shapes differ between tools/bench/src/model-shapes.ts and py/torch_models.py:\n  ' + '\n  '.join(bad), file=sys.stderr)
        sys.exit(2)
    print(f'model shapes: equal to {path}', file=sys.stderr)


def sync():
    if cuda:
        torch.cuda.synchronize()


def timed(fn, iters=20, warmup=3):
    """Median of `iters` runs after `warmup` (index len // 2 of the sorted times, as the tfjs side)."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        if cuda:
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


def set_mode(mode):
    torch.backends.cuda.matmul.allow_tf32 = mode == 'tf32'
    torch.backends.cudnn.allow_tf32 = mode == 'tf32'


def autocast(mode):
    if mode == 'bf16':
        return torch.autocast('cuda' if cuda else 'cpu', dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Block(nn.Module):  # pre-LN ViT block, as tools/bench/src/workloads.ts VitBlock
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / (d // self.h) ** 0.5, -1) @ v  # eager attention like ours
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))


def micro(mode):
    set_mode(mode)
    res = []
    with autocast(mode):
        for n in MATMUL_SIZES:
            a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
            ms = timed(lambda: a @ b)
            res.append({'name': f'matmul {n}^3', 'ms': ms, 'gflops': 2 * n ** 3 / ms / 1e6})
        B, T, D, H = BLOCK
        blk = Block(D, H).to(dev)
        x = torch.randn(B, T, D, device=dev)
        with torch.no_grad():
            res.append({'name': f'ViT-B block fwd {B}x{T}x{D}', 'ms': timed(lambda: blk(x))})

        def fb():
            blk.zero_grad(set_to_none=True)
            blk(x).square().mean().backward()
        res.append({'name': 'ViT-B block fwd+bwd', 'ms': timed(fb, iters=10)})
    return res


# int8-bench.ts's GEMM shapes: (name, M tokens, K in, N out); torch._int_mm needs M > 16 and K, N multiples of 8.
INT8_SHAPES = [('256^3', 256, 256, 256), ('ragged 304 x 136 -> 200', 304, 136, 200)] if args.quick else [
    ('4096^3', 4096, 4096, 4096),
    ('DINOv2-B fc1, batch 32 (8224 tokens)', 8224, 768, 3072),
    ('DINOv2-B fc2', 8224, 3072, 768),
    ('FAE pixel decoder (ViT-L) fc1, batch 8', 2048, 1024, 4096),
    ('LightningDiT-XL qkv, batch 64 + CFG (32768 tokens)', 32768, 1152, 3456),
    ('LightningDiT-XL fc1', 32768, 1152, 4608),
    ('LightningDiT-XL fc2', 32768, 4608, 1152),
]


def int8_micro():
    """torch._int_mm, _int_mm + dequant (per-token x per-channel scales, bias), bf16 and fp32 (no TF32) matmul."""
    set_mode('fp32')
    res = []
    for name, m, k, n in INT8_SHAPES:
        ops = 2 * m * n * k
        row = {'name': name, 'm': m, 'k': k, 'n': n}
        a8 = torch.randint(-127, 128, (m, k), dtype=torch.int8, device=dev)
        b8 = torch.randint(-127, 128, (k, n), dtype=torch.int8, device=dev)
        sa, sb, bias = torch.rand(m, device=dev), torch.rand(n, device=dev), torch.randn(n, device=dev)
        x, w = torch.randn(m, k, device=dev), torch.randn(k, n, device=dev)
        xb, wb = x.bfloat16(), w.bfloat16()
        cases = {
            'torch._int_mm (int32 out)': lambda: torch._int_mm(a8, b8),
            'torch._int_mm + dequant + bias': lambda: torch._int_mm(a8, b8).float() * sa[:, None] * sb[None, :] + bias,
            'bf16 matmul': lambda: xb @ wb,
            'fp32 matmul (no TF32)': lambda: x @ w,
        }
        for label, fn in cases.items():
            try:
                ms = timed(fn, iters=10, warmup=3)
                row[label] = {'ms': ms, 'tops': ops / ms / 1e9}
            except Exception as e:  # e.g. _int_mm unsupported on this device/shape
                row[label] = {'error': str(e).split('\n')[0]}
        res.append(row)
        print(f"[torch] int8 {name}: " + ', '.join(f"{k2} {v['ms']:.3f} ms" if 'ms' in v else f"{k2} error" for k2, v in row.items() if isinstance(v, dict)), file=sys.stderr)
        del a8, b8, x, w, xb, wb
        if cuda:
            torch.cuda.empty_cache()
    return res


def workload(s):
    """Builds the model of shapes `s`; returns run(mode) doing one timed call's work."""
    torch.manual_seed(0)
    # torch >= 2 builds straight on the device (a torch.device is a context manager there).
    with (torch.device(dev) if hasattr(torch.device(dev), '__enter__') else contextlib.nullcontext()):
        model = build_model(s).to(dev)
    n = parameter_count(model)
    if n != s['params']:
        raise SystemExit(f"{s['name']}: the PyTorch model has {n} parameters, the tfjs one {s['params']}: not the same architecture")
    b, kind = s['batch'], s['kind']
    if kind == 'dinov2_encode':
        px = torch.randn(b, 3, s['image'], s['image'], device=dev)
        return lambda mode: model(px)
    if kind == 'fae_decode':
        f = s['feature_decoder']
        z = torch.randn(b, f['grid'] ** 2, f['latent'], device=dev)
        return lambda mode: model(z)
    if kind == 'dit_step':
        x = torch.randn(b, s['channels'], s['size'], s['size'], device=dev)
        y = torch.arange(b, device=dev) % s['classes']
        return lambda mode: model.cfg_euler_step(x, y, 0.5, 0.48, s['cfg_scale'])
    if kind == 'tarflow_sample':
        z = torch.randn(b, (s['size'] // s['patch']) ** 2, s['channels'] * s['patch'] ** 2, device=dev)
        y = torch.arange(b, device=dev) % s['classes']
        return lambda mode: model.sample(z, y)
    if kind == 'fae_train':
        feats = torch.randn(b, s['grid'] ** 2, s['features'], device=dev)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=s['lr'], betas=(0.9, 0.999), weight_decay=0)

        def step(mode):
            opt.zero_grad(set_to_none=True)
            with autocast(mode):
                loss = model.loss(feats)
            loss.backward()
            opt.step()
        return step
    raise ValueError(kind)


def models(modes):
    out = {m: [] for m in modes}
    for s in MODEL_SHAPES:
        run = workload(s)
        train = s['kind'] == 'fae_train'
        for mode in modes:
            set_mode(mode)
            if train:
                fn = lambda: run(mode)  # noqa: E731 (autocast inside: the backward runs outside it)
            else:
                def fn():
                    with torch.no_grad(), autocast(mode):
                        run(mode)
            ms = timed(fn, iters=s['iters'], warmup=s['warmup'])
            unit = 'sample-steps/s' if s['kind'] == 'dit_step' else 'images/s'
            out[mode].append({'name': s['name'], 'ms': ms, 'rate': s['batch'] * 1000 / ms, 'unit': unit, 'params': s['params'], 'iters': s['iters']})
            print(f"[torch] {mode} {s['name']}: {ms:.2f} ms", file=sys.stderr)
        del run
        if cuda:
            torch.cuda.empty_cache()
    return out


if args.check_shapes:
    check_shapes(args.check_shapes)
results = {m: [] for m in modes}
if not args.no_micro:
    for m in modes:
        results[m] += micro(m)
if not args.no_models:
    for m, rows in models(modes).items():
        results[m] += rows

int8_rows = int8_micro() if args.int8 else None

cpu = platform.processor() or platform.machine()
try:
    cpu = next(line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo') if line.startswith('model name'))
except (OSError, StopIteration):
    pass
report = {
    'engine': 'pytorch', 'device': torch.cuda.get_device_name() if cuda else f'cpu ({cpu})', 'torch': torch.__version__,
    'cuda': torch.version.cuda, 'machine': {'cpu': cpu, 'cores': os.cpu_count(), 'torch_threads': torch.get_num_threads(), 'python': platform.python_version()},
    'date': datetime.datetime.now(datetime.timezone.utc).isoformat(), 'quick': args.quick,
    'attention': 'F.scaled_dot_product_attention' if hasattr(torch.nn.functional, 'scaled_dot_product_attention') else 'eager softmax',
    'modes': results,
}
if int8_rows is not None:
    report['int8'] = int8_rows
os.makedirs(args.out, exist_ok=True)
json.dump(report, open(os.path.join(args.out, 'torch.json'), 'w'), indent=2)
print(f"\nPyTorch {torch.__version__} on {report['device']} (model attention: {report['attention']})")
cols = {'fp32': 'fp32 (no TF32) ms', 'tf32': 'TF32 ms', 'bf16': 'bf16 ms'}
print(f"| workload | {' | '.join(cols.get(m, m) for m in modes)} | {modes[0]} rate |\n| --- |{' --- |' * (len(modes) + 1)}")
for i, r in enumerate(results[modes[0]]):
    rate = f"{r['rate']:.1f} {r['unit']}" if 'rate' in r else (f"{r['gflops']:.0f} GFLOP/s" if 'gflops' in r else '')
    times = ' | '.join('%.3f' % results[m][i]['ms'] for m in modes)
    print(f"| {r['name']} | {times} | {rate} |")
if int8_rows:
    labels = [k for k in int8_rows[0] if isinstance(int8_rows[0][k], dict)]
    print(f"\n| int8 shape (M x K x N) | {' | '.join(labels)} |\n| --- |{' --- |' * len(labels)}")
    for r in int8_rows:
        cells = ' | '.join(f"{r[k]['ms']:.3f} ms ({r[k]['tops']:.1f} TOPS)" if 'ms' in r[k] else 'error' for k in labels)
        print(f"| {r['name']} ({r['m']} x {r['k']} x {r['n']}) | {cells} |")
