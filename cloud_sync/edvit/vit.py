"""A small Vision Transformer whose every width is explicit, so it can be pruned physically.

ED-ViT removes attention heads, MLP hidden channels and embedding (residual) channels
from a trained ViT. ``torch.nn.MultiheadAttention`` hides its per-head weights, so the
model is written out by hand: one ``qkv`` and one ``proj`` linear per block, with the
number of heads and the MLP width stored per block in :class:`VitConfig`. Removing a
unit then means slicing rows/columns of plain ``nn.Linear`` weights, and the exported
ONNX graph is genuinely smaller.

Scoring mode (:meth:`TinyVit.enable_gates`) multiplies every head output, MLP hidden
channel and residual channel by a gate equal to one. The forward pass is unchanged; the
gradient of the loss with respect to a gate is the first-order Taylor estimate of what
removing that unit would cost, which is how :mod:`cloud_sync.edvit.prune` ranks units.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass
class VitConfig:
    """Every shape of the model; a pruned sub-model is the same class with smaller numbers."""

    image_size: int = 8          # square images, one channel
    patch_size: int = 2
    embed_dim: int = 48
    head_dim: int = 12
    heads: list[int] = field(default_factory=lambda: [4, 4, 4])   # per block
    mlp: list[int] = field(default_factory=lambda: [96, 96, 96])  # per block
    num_classes: int = 10

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if len(self.heads) != len(self.mlp):
            raise ValueError(f"heads {self.heads} and mlp {self.mlp} must list one entry per block")
        if min(self.heads + self.mlp + [self.embed_dim]) < 1:
            raise ValueError(f"every width must be >= 1: {self}")

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def patch_dim(self) -> int:
        return self.patch_size ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VitConfig":
        return cls(**data)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)
        self.gate: torch.Tensor | None = None   # (heads,) in scoring mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                       # (B, H, T, dh)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.head_dim ** -0.5, dim=-1)
        out = attn @ v                                         # (B, H, T, dh)
        if self.gate is not None:
            out = out * self.gate.view(1, -1, 1, 1)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, self.heads * self.head_dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.gate: torch.Tensor | None = None   # (hidden,) in scoring mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.act(self.fc1(x))
        if self.gate is not None:
            hidden = hidden * self.gate
        return self.fc2(hidden)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, mlp: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyVit(nn.Module):
    """ViT classifier; ``forward`` returns ``(features, logits)``.

    ``features`` is the normalised class token: what a sub-model sends to the fusion MLP.
    Input: ``(batch, 1, H, W)`` float images scaled to [0, 1].
    """

    def __init__(self, config: VitConfig):
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.patch_embed = nn.Linear(config.patch_dim, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, config.num_patches + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(
            Block(dim, h, config.head_dim, m) for h, m in zip(config.heads, config.mlp))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, config.num_classes)
        self.embed_gate: torch.Tensor | None = None   # (dim,) in scoring mode

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        p = self.config.patch_size
        batch, _, height, width = images.shape
        patches = images.reshape(batch, height // p, p, width // p, p).permute(0, 1, 3, 2, 4)
        return patches.reshape(batch, (height // p) * (width // p), p * p)

    def _gated(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.embed_gate is None else x * self.embed_gate

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.patch_embed(self.patchify(images))
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        x = self._gated(torch.cat([cls, tokens], dim=1) + self.pos_embed)
        for block in self.blocks:
            x = self._gated(block(x))
        features = self.norm(x[:, 0])
        return features, self.head(features)

    # -- scoring mode -------------------------------------------------------------------
    def enable_gates(self) -> list[torch.Tensor]:
        """Attach all-ones gates that collect gradients; returns them (embed, then per block)."""
        device = self.pos_embed.device
        ones = lambda n: torch.ones(n, device=device, requires_grad=True)  # noqa: E731
        self.embed_gate = ones(self.config.embed_dim)
        gates = [self.embed_gate]
        for block in self.blocks:
            block.attn.gate = ones(block.attn.heads)
            block.mlp.gate = ones(block.mlp.fc1.out_features)
            gates += [block.attn.gate, block.mlp.gate]
        return gates

    def disable_gates(self) -> None:
        self.embed_gate = None
        for block in self.blocks:
            block.attn.gate = None
            block.mlp.gate = None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def vit_flops(config: VitConfig) -> int:
    """Multiply-accumulates x 2 for one image (matmuls only; norms and softmax are negligible)."""
    tokens = config.num_patches + 1
    dim, dh = config.embed_dim, config.head_dim
    flops = 2 * config.num_patches * config.patch_dim * dim
    for heads, hidden in zip(config.heads, config.mlp):
        inner = heads * dh
        flops += 2 * tokens * dim * 3 * inner          # qkv
        flops += 2 * 2 * tokens * tokens * inner       # q k^T and attn v
        flops += 2 * tokens * inner * dim              # proj
        flops += 2 * 2 * tokens * dim * hidden         # fc1 + fc2
    return flops + 2 * dim * config.num_classes


def save_model(model: TinyVit, path, **extra) -> None:
    torch.save({"config": model.config.to_dict(), "state": model.state_dict(), **extra}, path)


def load_model(path) -> tuple[TinyVit, dict]:
    """The model and the extra fields saved with it (class lists, metrics)."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = TinyVit(VitConfig.from_dict(blob.pop("config")))
    model.load_state_dict(blob.pop("state"))
    return model.eval(), blob
