"""PyTorch side of the whole-model GPU workloads (issue #10), in plain torch: no downloads, no
transformers / timm. Each model follows its reference's structure (transformers Dinov2Model, FAE's
feature decoder = LightningDiT blocks without adaLN, RAE's ViT-MAE pixel decoder, hustvl/LightningDiT,
apple/ml-tarflow, FAE's single-attention adapter) with random weights; speed does not depend on values.
Attention is F.scaled_dot_product_attention, as those references use it (eager softmax where torch < 2).
Each model is built from one entry of model_shapes.py's SHAPES; torch_bench.py checks its parameter
count against the entry's `params` (the tfjs side's count of the same preset).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------------
def sdpa(q, k, v):
    """softmax(q k^T / sqrt(d)) v on [B, H, T, Dh]."""
    if hasattr(F, 'scaled_dot_product_attention'):
        return F.scaled_dot_product_attention(q, k, v)
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1)
    return a @ v


def frozen(t):
    return nn.Parameter(t, requires_grad=False)


def rope_tables(head_dim, grid, theta=10000.0):
    """2-D axial RoPE (EVA / LightningDiT layout): first half of the head dim rotated by the row index,
    second half by the column index, interleaved pairs. cos, sin: [grid*grid, head_dim]."""
    half = head_dim // 2
    freqs = 1.0 / theta ** (torch.arange(0, half, 2).float() / half)  # [half/2]
    pos = torch.arange(grid).float()
    rows, cols = pos.repeat_interleave(grid), pos.repeat(grid)  # row-major tokens
    ang = torch.cat([(rows[:, None] * freqs).repeat_interleave(2, -1), (cols[:, None] * freqs).repeat_interleave(2, -1)], -1)
    return ang.cos(), ang.sin()


def apply_rope(x, cos, sin):
    rot = torch.stack([-x[..., 1::2], x[..., 0::2]], -1).flatten(-2)
    return x * cos + rot * sin


def sincos_table(tokens, width):
    """A fixed table [1, tokens, width] (values do not matter for speed)."""
    pos = torch.arange(tokens).float()[:, None]
    freqs = torch.exp(-math.log(10000.0) * torch.arange(width // 2).float() / (width // 2))[None]
    return torch.cat([torch.sin(pos * freqs), torch.cos(pos * freqs)], -1)[None]


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


class SwiGLU(nn.Module):  # LightningDiT's SwiGLUFFN: w12 -> silu(x1) * x2 -> w3
    def __init__(self, dim, hidden):
        super().__init__()
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x):
        x1, x2 = self.w12(x).chunk(2, -1)
        return self.w3(F.silu(x1) * x2)


class RopeAttention(nn.Module):  # LightningDiT Attention: fused qkv, RoPE on q and k, SDPA, proj
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        o = sdpa(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v)
        return self.proj(o.transpose(1, 2).reshape(b, t, d))


# --------------------------------------------------------------------------------------------------
# DINOv2 (transformers Dinov2Model)
# --------------------------------------------------------------------------------------------------
class Dinov2Layer(nn.Module):
    def __init__(self, d, heads, mlp, eps):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.query, self.key, self.value, self.dense = (nn.Linear(d, d) for _ in range(4))
        self.lambda1 = nn.Parameter(torch.ones(d))
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)
        self.lambda2 = nn.Parameter(torch.ones(d))

    def forward(self, x):
        b, t, d = x.shape
        h = self.norm1(x)
        q, k, v = (m(h).reshape(b, t, self.heads, -1).transpose(1, 2) for m in (self.query, self.key, self.value))
        x = x + self.lambda1 * self.dense(sdpa(q, k, v).transpose(1, 2).reshape(b, t, d))
        return x + self.lambda2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Dinov2(nn.Module):
    def __init__(self, s):
        super().__init__()
        d, g = s['width'], s['pos_grid']
        self.s = s
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(1, d))
        self.position_embeddings = nn.Parameter(torch.randn(1, g * g + 1, d) * 0.02)
        self.projection = nn.Conv2d(3, d, s['patch'], s['patch'])
        self.layer = nn.ModuleList(Dinov2Layer(d, s['heads'], s['mlp'], s['eps']) for _ in range(s['depth']))
        self.layernorm = nn.LayerNorm(d, eps=s['eps'])

    def forward(self, px):
        """pixel values [B, 3, H, W] -> patch features [B, h, w, D] (last layer, final LayerNorm, CLS dropped)."""
        b, d, g, big = px.shape[0], self.s['width'], self.s['grid'], self.s['pos_grid']
        x = self.projection(px).flatten(2).transpose(1, 2)  # [B, h*w, D]
        pos = self.position_embeddings[:, 1:].reshape(1, big, big, d).permute(0, 3, 1, 2)
        pos = F.interpolate(pos, size=(g, g), mode='bicubic', align_corners=False).permute(0, 2, 3, 1).reshape(1, g * g, d)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], 1) + torch.cat([self.position_embeddings[:, :1], pos], 1)
        for layer in self.layer:
            x = layer(x)
        return self.layernorm(x)[:, 1:].reshape(b, g, g, d)


# --------------------------------------------------------------------------------------------------
# FAE feature decoder (LightningDiT blocks without adaLN) and RAE's ViT-MAE pixel decoder
# --------------------------------------------------------------------------------------------------
class FeatureDecoderBlock(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.norm1 = RMSNorm(f['width'], f['eps'])
        self.attn = RopeAttention(f['width'], f['heads'])
        self.norm2 = RMSNorm(f['width'], f['eps'])
        self.mlp = SwiGLU(f['width'], f['swiglu_hidden'])

    def forward(self, x, cos, sin):
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class FeatureDecoder(nn.Module):
    def __init__(self, f):
        super().__init__()
        t = f['grid'] ** 2
        self.in_proj = nn.Linear(f['latent'], f['width'])
        self.pos_embed = frozen(sincos_table(t, f['width']))
        self.blocks = nn.ModuleList(FeatureDecoderBlock(f) for _ in range(f['depth']))
        self.norm = RMSNorm(f['width'], f['eps'])
        cos, sin = rope_tables(f['width'] // f['heads'], f['grid'])
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)

    def forward(self, z):
        """latent tokens [B, T, c] -> features [B, T, D]"""
        x = self.in_proj(z) + self.pos_embed
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        return self.norm(x)


class ViTMAELayer(nn.Module):
    def __init__(self, p):
        super().__init__()
        w = p['width']
        self.heads = p['heads']
        self.layernorm_before = nn.LayerNorm(w, eps=p['eps'])
        self.query, self.key, self.value, self.dense = (nn.Linear(w, w) for _ in range(4))
        self.layernorm_after = nn.LayerNorm(w, eps=p['eps'])
        self.fc1 = nn.Linear(w, p['mlp'])
        self.fc2 = nn.Linear(p['mlp'], w)

    def forward(self, x):
        b, t, w = x.shape
        h = self.layernorm_before(x)
        q, k, v = (m(h).reshape(b, t, self.heads, -1).transpose(1, 2) for m in (self.query, self.key, self.value))
        x = x + self.dense(sdpa(q, k, v).transpose(1, 2).reshape(b, t, w))
        return x + self.fc2(F.gelu(self.fc1(self.layernorm_after(x))))


class PixelDecoder(nn.Module):
    def __init__(self, p, grid):
        super().__init__()
        self.p, self.grid = p, grid
        self.decoder_embed = nn.Linear(p['input'], p['width'])
        self.trainable_cls_token = nn.Parameter(torch.zeros(1, 1, p['width']))
        self.decoder_pos_embed = frozen(sincos_table(grid * grid + 1, p['width']))
        self.decoder_layers = nn.ModuleList(ViTMAELayer(p) for _ in range(p['depth']))
        self.decoder_norm = nn.LayerNorm(p['width'], eps=p['eps'])
        self.decoder_pred = nn.Linear(p['width'], p['patch'] ** 2 * 3)
        self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, feats):
        """features [B, T, D] -> image [B, 3, H, W]"""
        b, g, ps = feats.shape[0], self.grid, self.p['patch']
        x = self.decoder_embed(feats)
        x = torch.cat([self.trainable_cls_token.expand(b, -1, -1), x], 1) + self.decoder_pos_embed
        for layer in self.decoder_layers:
            x = layer(x)
        x = self.decoder_pred(self.decoder_norm(x))[:, 1:]  # [B, T, p*p*3]
        img = x.reshape(b, g, g, ps, ps, 3).permute(0, 5, 1, 3, 2, 4).reshape(b, 3, g * ps, g * ps)
        return img * self.std + self.mean


class FaeDecode(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.feature_decoder = FeatureDecoder(s['feature_decoder'])
        self.pixel_decoder = PixelDecoder(s['pixel_decoder'], s['feature_decoder']['grid'])

    def forward(self, z):
        return self.pixel_decoder(self.feature_decoder(z))


# --------------------------------------------------------------------------------------------------
# LightningDiT (hustvl/LightningDiT models/lightningdit.py: SwiGLU, RoPE, RMSNorm, adaLN-Zero)
# --------------------------------------------------------------------------------------------------
def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class LightningDiTBlock(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.norm1 = RMSNorm(d)
        self.attn = RopeAttention(d, heads)
        self.norm2 = RMSNorm(d)
        self.mlp = SwiGLU(d, hidden)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(self, x, c, cos, sin):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa), cos, sin)
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class LightningDiT(nn.Module):
    def __init__(self, s):
        super().__init__()
        d, p, c = s['width'], s['patch'], s['channels']
        self.s = s
        grid = s['size'] // p
        self.x_embedder = nn.Conv2d(c, d, p, p)
        self.t_embedder = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.y_embedder = nn.Embedding(s['classes'] + 1, d)
        self.pos_embed = frozen(sincos_table(grid * grid, d))
        self.blocks = nn.ModuleList(LightningDiTBlock(d, s['heads'], s['swiglu_hidden']) for _ in range(s['depth']))
        self.norm_final = RMSNorm(d)
        self.linear = nn.Linear(d, p * p * c)
        self.final_adaLN = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        cos, sin = rope_tables(d // s['heads'], grid)
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)

    @staticmethod
    def timestep_embedding(t, dim=256):
        freqs = torch.exp(-math.log(10000.0) * torch.arange(dim // 2, device=t.device).float() / (dim // 2))
        args = t[:, None].float() * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], -1)

    def forward(self, x, t, y):
        """x [B, C, H, W], t [B], y [B] -> velocity [B, C, H, W]"""
        b, c, h, _ = x.shape
        p = self.s['patch']
        x = self.x_embedder(x).flatten(2).transpose(1, 2) + self.pos_embed  # [B, T, D]
        cond = self.t_embedder(self.timestep_embedding(t)) + self.y_embedder(y)  # [B, D]
        for blk in self.blocks:
            x = blk(x, cond, self.cos, self.sin)
        shift, scale = self.final_adaLN(cond).chunk(2, dim=1)
        x = self.linear(modulate(self.norm_final(x), shift, scale))  # [B, T, p*p*C]
        g = h // p
        return x.reshape(b, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, h)

    def cfg_euler_step(self, x, y, s, s_next, scale):
        """One Euler step in noise-level time with CFG on all channels: one forward at batch 2B."""
        b = x.shape[0]
        t = torch.full((2 * b,), 1.0 - s, device=x.device)  # data-at-1 model time
        yy = torch.cat([y, torch.full_like(y, self.s['classes'])])
        cond, uncond = self.forward(torch.cat([x, x]), t, yy).chunk(2)
        v = -(uncond + scale * (cond - uncond))  # dx/ds = -dx/dt
        return x + (s_next - s) * v


# --------------------------------------------------------------------------------------------------
# TARFlow (apple/ml-tarflow transformer_flow.py): reverse pass token by token with KV caches
# --------------------------------------------------------------------------------------------------
class FlowAttention(nn.Module):
    def __init__(self, c, head_dim):
        super().__init__()
        self.heads = c // head_dim
        self.norm = nn.LayerNorm(c)
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        self.k_cache, self.v_cache = [], []
        self.sample = False

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, t, 3 * self.heads, -1).transpose(1, 2).chunk(3, dim=1)
        if self.sample:
            self.k_cache.append(k)
            self.v_cache.append(v)
            k, v = torch.cat(self.k_cache, 2), torch.cat(self.v_cache, 2)
        return self.proj(sdpa(q, k, v).transpose(1, 2).reshape(b, t, c))


class FlowLayer(nn.Module):  # AttentionBlock: x + attention(x), + mlp(x)
    def __init__(self, c, head_dim, expansion):
        super().__init__()
        self.attention = FlowAttention(c, head_dim)
        self.mlp = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, c * expansion), nn.GELU(), nn.Linear(c * expansion, c))

    def forward(self, x):
        x = x + self.attention(x)
        return x + self.mlp(x)


class MetaBlock(nn.Module):
    def __init__(self, s, layers, flip):
        super().__init__()
        d, c = s['channels'] * s['patch'] ** 2, s['width']
        t = (s['size'] // s['patch']) ** 2
        self.flip = flip
        self.proj_in = nn.Linear(d, c)
        self.pos_embed = nn.Parameter(torch.randn(t, c) * 1e-2)
        self.class_embed = nn.Parameter(torch.randn(s['classes'], 1, c) * 1e-2)
        self.attn_blocks = nn.ModuleList(FlowLayer(c, s['head_dim'], s['expansion']) for _ in range(layers))
        self.proj_out = nn.Linear(c, 2 * d)
        nn.init.zeros_(self.proj_out.weight)
        self.register_buffer('attn_mask', torch.tril(torch.ones(t, t)))

    def set_sample_mode(self, on):
        for m in self.attn_blocks:
            m.attention.sample = on
            m.attention.k_cache, m.attention.v_cache = [], []

    def reverse(self, x, y):
        x = x.flip(1) if self.flip else x.clone()
        pos = self.pos_embed.flip(0) if self.flip else self.pos_embed
        self.set_sample_mode(True)
        for i in range(x.shape[1] - 1):
            h = self.proj_in(x[:, i:i + 1]) + pos[i:i + 1] + self.class_embed[y]
            for blk in self.attn_blocks:
                h = blk(h)
            za, zb = self.proj_out(h).chunk(2, -1)
            x[:, i + 1] = x[:, i + 1] * torch.exp(za[:, 0]) + zb[:, 0]
        self.set_sample_mode(False)
        return x.flip(1) if self.flip else x


class TarFlow(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        t, d = (s['size'] // s['patch']) ** 2, s['channels'] * s['patch'] ** 2
        self.blocks = nn.ModuleList(MetaBlock(s, n, i % 2 == 1) for i, n in enumerate(s['layers']))
        self.register_buffer('var', torch.ones(t, d))

    def sample(self, z, y):
        """noise tokens [B, T, D], labels [B] -> samples [B, C, H, W]"""
        x = z * self.var.sqrt()
        for blk in reversed(self.blocks):
            x = blk.reverse(x, y)
        b, p, c, g = x.shape[0], self.s['patch'], self.s['channels'], self.s['size'] // self.s['patch']
        return x.reshape(b, g, g, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, c, g * p, g * p)


# --------------------------------------------------------------------------------------------------
# FAE stage Ib: the single-attention adapter + the feature decoder, L2 + beta * KL
# --------------------------------------------------------------------------------------------------
class Adapter(nn.Module):
    def __init__(self, s):
        super().__init__()
        a, dim = s['adapter'], s['features']
        self.heads, self.head_dim, self.clamp = a['heads'], a['head_dim'], a['logvar_clamp']
        hidden = a['heads'] * a['head_dim']
        self.pos_embed = frozen(sincos_table(s['grid'] ** 2, dim))
        self.qkv = nn.Linear(dim, 3 * hidden)
        self.proj = nn.Linear(hidden, dim)
        self.out_proj = nn.Linear(dim, 2 * s['latent'])

    def forward(self, feats):
        """features [B, T, D] -> mean, logvar [B, T, c]"""
        b, t, _ = feats.shape
        x = feats + self.pos_embed
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        x = x + self.proj(sdpa(q, k, v).transpose(1, 2).reshape(b, t, -1))
        mean, logvar = self.out_proj(F.gelu(x)).chunk(2, -1)
        return mean, logvar.clamp(*self.clamp)


class FeatureAutoEncoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.beta = s['beta']
        self.encoder = Adapter(s)
        self.decoder = FeatureDecoder(s['feature_decoder'])

    def loss(self, feats):
        mean, logvar = self.encoder(feats)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        rec = F.mse_loss(self.decoder(z), feats)
        kl = (0.5 * (mean.square() + logvar.exp() - 1 - logvar)).mean()
        return rec + self.beta * kl


def build_model(s):
    return {'dinov2_encode': Dinov2, 'fae_decode': FaeDecode, 'dit_step': LightningDiT, 'tarflow_sample': TarFlow, 'fae_train': FeatureAutoEncoder}[s['kind']](s)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())
