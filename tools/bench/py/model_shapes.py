"""The PyTorch side's one place for the whole-model workload shapes (issue #10): the GPU lists of
tools/bench/src/model-shapes.ts, spelled out. They must be equal: `torch_bench.py --check-shapes
model-shapes.json` (prepare.sh writes that file from the TypeScript) refuses to run otherwise, and
torch_bench.py checks each model's parameter count against `params` (the tfjs presets' count).
When a preset or batch changes there, run `npm run shapes` in tools/bench and update this file."""

_FD_B = {'latent': 32, 'grid': 16, 'width': 768, 'depth': 6, 'heads': 12, 'swiglu_hidden': 2048, 'eps': 1e-06}
_FD_TINY = {'latent': 8, 'grid': 4, 'width': 64, 'depth': 2, 'heads': 1, 'swiglu_hidden': 170, 'eps': 1e-06}

SHAPES = {
    'gpu_full': [
        {'kind': 'dinov2_encode', 'name': 'DINOv2-B/14 (dinov2-base) encode 224px, batch 32', 'batch': 32, 'image': 224, 'patch': 14,
         'width': 768, 'depth': 12, 'heads': 12, 'mlp': 3072, 'pos_grid': 37, 'grid': 16, 'eps': 1e-06, 'params': 86580480, 'warmup': 2, 'iters': 10},
        {'kind': 'fae_decode', 'name': 'FAE decode fae-dinov2-g + fae-dinov2-g-vit-l, 16x16x32 -> 256px, batch 8', 'batch': 8,
         'feature_decoder': {'latent': 32, 'grid': 16, 'width': 1536, 'depth': 6, 'heads': 24, 'swiglu_hidden': 4096, 'eps': 1e-06},
         'pixel_decoder': {'input': 1536, 'width': 1024, 'depth': 24, 'heads': 16, 'mlp': 4096, 'patch': 16, 'image': 256, 'eps': 1e-12},
         'params': 475365120, 'warmup': 2, 'iters': 10},
        {'kind': 'dit_step', 'name': 'LightningDiT-XL/1 sampling step (Euler, CFG), batch 64 (forward 128)', 'batch': 64, 'forward_batch': 128,
         'cfg_scale': 4, 'size': 16, 'channels': 32, 'patch': 1, 'width': 1152, 'depth': 28, 'heads': 16, 'swiglu_hidden': 3072, 'classes': 1000,
         'params': 675256736, 'warmup': 1, 'iters': 5},
        {'kind': 'tarflow_sample', 'name': 'TARFlow-FAE 117M (bench config) sampling pass, 16x16x32 (256 tokens), batch 32', 'batch': 32,
         'channels': 32, 'size': 16, 'patch': 1, 'width': 768, 'blocks': 4, 'layers': [4, 4, 4, 4], 'head_dim': 64, 'expansion': 4, 'classes': 1000,
         'params': 117562624, 'warmup': 1, 'iters': 1},
        {'kind': 'fae_train', 'name': 'FAE fae-dinov2-b training step (stage Ib), features 16x16x768, batch 16', 'batch': 16, 'grid': 16,
         'features': 768, 'latent': 32, 'adapter': {'heads': 12, 'head_dim': 256, 'logvar_clamp': [-30, 20]}, 'feature_decoder': _FD_B,
         'lr': 0.0001, 'beta': 1e-06, 'params': 52439872, 'warmup': 2, 'iters': 5},
    ],
    'gpu_quick': [
        {'kind': 'dinov2_encode', 'name': 'DINOv2 tiny encode 56px, batch 1', 'batch': 1, 'image': 56, 'patch': 14, 'width': 64, 'depth': 2,
         'heads': 1, 'mlp': 256, 'pos_grid': 37, 'grid': 4, 'eps': 1e-06, 'params': 225856, 'warmup': 1, 'iters': 2},
        {'kind': 'fae_decode', 'name': 'FAE decode tiny, 4x4x8 -> 32px, batch 1', 'batch': 1, 'feature_decoder': _FD_TINY,
         'pixel_decoder': {'input': 64, 'width': 64, 'depth': 2, 'heads': 1, 'mlp': 128, 'patch': 8, 'image': 32, 'eps': 1e-12},
         'params': 186152, 'warmup': 1, 'iters': 2},
        {'kind': 'dit_step', 'name': 'LightningDiT tiny sampling step (Euler, CFG), batch 1 (forward 2)', 'batch': 1, 'forward_batch': 2,
         'cfg_scale': 4, 'size': 4, 'channels': 8, 'patch': 1, 'width': 144, 'depth': 2, 'heads': 2, 'swiglu_hidden': 384, 'classes': 10,
         'params': 857912, 'warmup': 1, 'iters': 2},
        {'kind': 'tarflow_sample', 'name': 'TARFlow tarflow-tiny sampling pass, 8x8x4 (16 tokens), batch 1', 'batch': 1, 'channels': 4,
         'size': 8, 'patch': 2, 'width': 64, 'blocks': 2, 'layers': [2, 2], 'head_dim': 64, 'expansion': 4, 'classes': 10,
         'params': 209600, 'warmup': 1, 'iters': 2},
        {'kind': 'fae_train', 'name': 'FAE tiny training step (stage Ib), features 4x4x64, batch 1', 'batch': 1, 'grid': 4, 'features': 64,
         'latent': 8, 'adapter': {'heads': 1, 'head_dim': 256, 'logvar_clamp': [-30, 20]}, 'feature_decoder': _FD_TINY,
         'lr': 0.0001, 'beta': 1e-06, 'params': 169720, 'warmup': 1, 'iters': 2},
    ],
}
