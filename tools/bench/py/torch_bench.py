"""PyTorch side of the GPU benchmark: the same shapes as tools/bench/src/gpu-bench.ts, timed with CUDA
events (median of repeats after warm-up), in fp32 with TF32 off, TF32, and bf16 autocast.
Usage: python3 torch_bench.py [--out DIR]"""
import json, os, sys, time
import torch
import torch.nn as nn

out_dir = sys.argv[sys.argv.index('--out') + 1] if '--out' in sys.argv else 'bench-out'
dev = 'cuda'


def timed(fn, iters=20, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


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


def run(mode):
    torch.backends.cuda.matmul.allow_tf32 = mode == 'tf32'
    torch.backends.cudnn.allow_tf32 = mode == 'tf32'
    ctx = torch.autocast('cuda', dtype=torch.bfloat16) if mode == 'bf16' else torch.autocast('cuda', enabled=False)
    res = []
    with ctx:
        for n in (1024, 2048, 4096):
            a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
            ms = timed(lambda: a @ b)
            res.append({'name': f'matmul {n}^3', 'ms': ms, 'gflops': 2 * n ** 3 / ms / 1e6})
        B, T, D, H = 64, 256, 768, 12
        blk = Block(D, H).to(dev)
        x = torch.randn(B, T, D, device=dev)
        with torch.no_grad():
            res.append({'name': f'ViT-B block fwd {B}x{T}x{D}', 'ms': timed(lambda: blk(x))})

        def fb():
            blk.zero_grad(set_to_none=True)
            blk(x).square().mean().backward()
        res.append({'name': 'ViT-B block fwd+bwd', 'ms': timed(fb, iters=10)})
    return res


report = {'device': torch.cuda.get_device_name(), 'torch': torch.__version__, 'modes': {m: run(m) for m in ('fp32', 'tf32', 'bf16')}}
os.makedirs(out_dir, exist_ok=True)
json.dump(report, open(os.path.join(out_dir, 'torch.json'), 'w'), indent=2)
print(f"\nPyTorch {torch.__version__} on {report['device']}")
print('| workload | fp32 (no TF32) ms | TF32 ms | bf16 ms |\n| --- | --- | --- | --- |')
for i, r in enumerate(report['modes']['fp32']):
    print(f"| {r['name']} | {r['ms']:.3f} | {report['modes']['tf32'][i]['ms']:.3f} | {report['modes']['bf16'][i]['ms']:.3f} |")
