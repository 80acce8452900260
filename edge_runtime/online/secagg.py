"""The device's half of secure aggregation by pairwise masking (Bonawitz et al., CCS 2017).

Why: with it the coordinator learns only the *sum* of the round's updates, never one
device's update — and the sum is still exact, so FedAvg/Reptile are unchanged.

Per round, a device

1. makes an X25519 key pair and a random self-mask seed ``b``, and advertises its public key;
2. Shamir-shares its private key and ``b`` (threshold ``t`` of the round's ``n`` devices),
   one share per peer (routed by the server; on a real link encrypted to the peer);
3. uploads ``y = q(x) + PRG(b) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv)  (mod 2³²)``, where
   ``s_uv`` is the X25519 secret it shares with peer ``v`` and ``q`` is fixed point;
4. when asked, reveals its share of ``b`` for peers that uploaded and of the private key
   for peers that dropped — never both for the same peer, so no update is exposed.

Pairwise masks cancel in the sum; the server removes the self-masks and the dropped
devices' pairwise masks from the reconstructed secrets. Fixed point: updates are clipped
to ±``2^(31-frac_bits)/n`` so the sum of ``n`` cannot wrap.
"""
from __future__ import annotations

import hashlib
import secrets

import numpy as np

FIELD = (1 << 521) - 1  # Mersenne prime: holds a 256-bit X25519 key or mask seed as one element
SHARE_BYTES = 66
KEY_BYTES = 32


def prg(seed: bytes, n: int) -> np.ndarray:
    """``n`` pseudo-random uint32 from a 32-byte seed (both sides expand it the same way)."""
    words = np.frombuffer(hashlib.sha256(seed).digest(), "<u4").astype(np.uint64)
    return np.random.Generator(np.random.PCG64(words.tolist())).integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)


def shamir_share(secret: int, n: int, t: int, rng: secrets.SystemRandom) -> list[tuple[int, int]]:
    """``n`` shares (x = 1..n) of ``secret``; any ``t`` reconstruct it, fewer reveal nothing."""
    if not 1 <= t <= n:
        raise ValueError(f"Shamir threshold must be in 1..{n}, got {t}")
    coeffs = [secret] + [rng.randrange(FIELD) for _ in range(t - 1)]
    shares = []
    for x in range(1, n + 1):
        acc = 0
        for c in reversed(coeffs):
            acc = (acc * x + c) % FIELD
        shares.append((x, acc))
    return shares


def shamir_reconstruct(shares: list[tuple[int, int]]) -> int:
    """Lagrange interpolation at 0 of the given (x, y) shares."""
    total = 0
    for i, (xi, yi) in enumerate(shares):
        num, den = 1, 1
        for j, (xj, _) in enumerate(shares):
            if i != j:
                num = num * (-xj) % FIELD
                den = den * (xi - xj) % FIELD
        total = (total + yi * num * pow(den, -1, FIELD)) % FIELD
    return total


def to_fixed(x: np.ndarray, frac_bits: int, bound: float) -> np.ndarray:
    """Clip to ±bound and encode as two's-complement fixed point in uint32."""
    q = np.rint(np.clip(np.asarray(x, np.float64), -bound, bound) * (1 << frac_bits)).astype(np.int64)
    return (q & 0xFFFFFFFF).astype(np.uint32)


def from_fixed(q: np.ndarray, frac_bits: int) -> np.ndarray:
    return q.astype(np.uint32).view(np.int32).astype(np.float64) / (1 << frac_bits)


def pair_seed(private_key, peer_public: bytes) -> bytes:
    """The pairwise mask seed: SHA-256 of the X25519 shared secret."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    return hashlib.sha256(private_key.exchange(X25519PublicKey.from_public_bytes(peer_public))).digest()


def private_key_from_int(value: int):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return X25519PrivateKey.from_private_bytes(value.to_bytes(KEY_BYTES, "little"))


class MaskingClient:
    """One device in one secure-aggregation round; ``index`` is its 1-based Shamir x."""

    def __init__(self, device_id: str, index: int):
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

        self.device_id, self.index = device_id, index
        self._key = X25519PrivateKey.generate()
        self._key_int = int.from_bytes(self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()), "little")
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._self_seed = secrets.token_bytes(KEY_BYTES)
        self._received: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
        self._peers: dict[str, bytes] = {}

    def share_secrets(self, peers: dict[str, bytes], order: list[str], threshold: int) -> dict[str, tuple]:
        """Phase 2: (key share, self-seed share) for every device of the round, by device id."""
        self._peers = dict(peers)
        rng = secrets.SystemRandom()
        key_shares = shamir_share(self._key_int, len(order), threshold, rng)
        seed_shares = shamir_share(int.from_bytes(self._self_seed, "little"), len(order), threshold, rng)
        return {dev: (key_shares[i], seed_shares[i]) for i, dev in enumerate(order)}

    def receive_share(self, sender: str, shares: tuple) -> None:
        self._received[sender] = shares

    def masked_input(self, update: np.ndarray, frac_bits: int, bound: float) -> np.ndarray:
        """Phase 3: the fixed-point update plus its self-mask and pairwise masks (mod 2³²)."""
        y = to_fixed(update, frac_bits, bound).astype(np.uint64)
        y += prg(self._self_seed, y.size)
        for peer, public in self._peers.items():
            if peer == self.device_id:
                continue
            mask = prg(pair_seed(self._key, public), y.size).astype(np.uint64)
            y += mask if self.device_id < peer else (1 << 32) - mask
        return (y & 0xFFFFFFFF).astype(np.uint32)

    def unmask_shares(self, survivors: set[str], dropped: set[str]) -> dict[str, tuple[int, int]]:
        """Phase 4: self-seed shares of survivors, key shares of dropped devices — never both."""
        if survivors & dropped:
            raise ValueError("a device cannot be both a survivor and dropped")
        out = {}
        for sender, (key_share, seed_share) in self._received.items():
            if sender in survivors:
                out[sender] = seed_share
            elif sender in dropped:
                out[sender] = key_share
        return out
