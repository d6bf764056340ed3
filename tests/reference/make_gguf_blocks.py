#!/usr/bin/env python3
"""Writes reference blocks for tests/test_gguf_quants.cpp into tests/reference/gguf_blocks/.

For each ggml type: <TYPE>.bin holds a few blocks of valid raw bytes and <TYPE>.f32 the
little-endian float32 values that the Python `gguf` package's own dequantizer
(gguf.quants.dequantize) returns for them.

  * Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 BF16: half of the blocks come from gguf.quants.quantize of seeded
    normal floats, the other half are random bytes whose fp16 scale fields are overwritten with
    random finite fp16 values (one of them subnormal).
  * Q2_K Q3_K Q4_K Q5_K Q6_K (no quantizer in the package): random bytes, fp16 d / dmin fields
    overwritten the same way.
  * F32 F16 BF16: special values (+-0, subnormals, min normal, max, +-inf, NaNs) plus random
    bit patterns.

Run once, from a virtual environment outside the repository:
  python3 -m venv /root/.cache/skvq/ggufvenv
  /root/.cache/skvq/ggufvenv/bin/pip install gguf==0.19.0 numpy==2.4.6
  /root/.cache/skvq/ggufvenv/bin/python tests/reference/make_gguf_blocks.py
"""
import pathlib

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

OUT = pathlib.Path(__file__).resolve().parent / "gguf_blocks"
N_BLOCKS = 4
rng = np.random.default_rng(20240611)


def fp16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8).reshape(-1, 2)


def random_scale(count, subnormal_first=False):
    """Random finite fp16 scales in +-[1e-3, 2); the first is subnormal if asked."""
    mag = np.exp(rng.uniform(np.log(1e-3), np.log(2.0), count))
    s = (mag * rng.choice([-1.0, 1.0], count)).astype(np.float16)
    if subnormal_first:
        s[0] = np.frombuffer(np.uint16(0x0123).tobytes(), dtype=np.float16)[0]  # 2^-24 * 291
    return s


def random_blocks(qtype, n, fp16_offsets):
    """n random blocks of qtype, with the fp16 fields at fp16_offsets set to finite scales."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n, type_size), dtype=np.uint8)
    for k, off in enumerate(fp16_offsets):
        raw[:, off:off + 2] = fp16_bytes(random_scale(n, subnormal_first=(k == 0)))
    return raw


def write(name, raw, qtype):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    values = np.asarray(dequantize(raw, qtype), dtype=np.float32).reshape(-1)
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    assert raw.size % type_size == 0 and values.size == raw.size // type_size * block_size
    (OUT / f"{name}.bin").write_bytes(raw.tobytes())
    (OUT / f"{name}.f32").write_bytes(values.astype("<f4").tobytes())
    print(f"{name}: {raw.size // type_size} blocks, {raw.size} bytes -> {values.size} floats")


def main():
    OUT.mkdir(exist_ok=True)

    # F32 / F16 / BF16: specials first, then random bit patterns.
    f32_special = np.array([0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff,
                            0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc00000,
                            0x3f800000, 0xbf800000], dtype=np.uint32)
    f32 = np.concatenate([f32_special, rng.integers(0, 2**32, 64 - f32_special.size, dtype=np.uint32)])
    write("F32", f32.astype("<u4").view(np.uint8), T.F32)

    f16_special = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0200, 0x0400, 0x8400,
                            0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7dff, 0x3c00,
                            0xbc00, 0x3555, 0x1400, 0x0155], dtype=np.uint16)
    f16 = np.concatenate([f16_special, rng.integers(0, 2**16, 128 - f16_special.size, dtype=np.uint16)])
    write("F16", f16.astype("<u2").view(np.uint8), T.F16)

    bf16_special = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f, 0x7f80,
                             0xff80, 0x7fc0, 0xffc0, 0x7f81, 0x3f80, 0xbf80, 0x4049], dtype=np.uint16)
    bf16_rand = rng.integers(0, 2**16, 64 - bf16_special.size, dtype=np.uint16)
    bf16_quant = quantize(rng.standard_normal(64).astype(np.float32) * 3, T.BF16).view(np.uint16)
    bf16 = np.concatenate([bf16_special, bf16_rand, bf16_quant.reshape(-1)])
    write("BF16", bf16.astype("<u2").view(np.uint8), T.BF16)

    # Legacy 32-element blocks: byte offsets of their fp16 fields (d, then m if any).
    legacy = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0]}
    for qtype, offsets in legacy.items():
        half = N_BLOCKS // 2
        x = (rng.standard_normal((half, 32)) * rng.uniform(0.05, 4.0, (half, 1))).astype(np.float32)
        x[0] += np.float32(0.7)  # one block with a clear offset (exercises m of Q4_1 / Q5_1)
        quantized = quantize(x, qtype).reshape(half, -1)
        raw = np.concatenate([quantized, random_blocks(qtype, N_BLOCKS - half, offsets)])
        write(qtype.name, raw, qtype)

    # K-quants (256-element super-blocks): offsets of d (and dmin).
    kquants = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
    for qtype, offsets in kquants.items():
        write(qtype.name, random_blocks(qtype, N_BLOCKS, offsets), qtype)


if __name__ == "__main__":
    main()
