#!/usr/bin/env python3
"""Reference token ids for the GGUF "llama" (SentencePiece) tokenizer path.

No real SentencePiece-tokenizer GGUF file can be fetched here, so the fixture is stories260K's
own vocabulary (../shared/data/models/stories260K/tok512.bin: a SentencePiece BPE model with
byte fallback, exported by llama2.c with '\u2581' written as ' ' and <s>/</s> as '\\n<s>\\n').
The C++ test (tests/test_gguf_spm_tokenizer.cpp) writes it into GGUF metadata the way
llama.cpp's converter does (tokens with '\u2581', scores, token types, bos/eos/unk ids); this
script makes the same vocabulary two independent ways and records their token ids:

  sentencepiece  the SentencePiece library itself, on a ModelProto rebuilt from the pieces and
                 scores (BPE, byte_fallback, add_dummy_prefix, identity normalization and no
                 whitespace collapsing: Llama-2's own normalizer settings, which is what a
                 GGUF "llama" tokenizer stands for in llama.cpp)
  transformers   its SentencePiece-to-tokenizers conversion (LlamaTokenizer on the same model
                 saved as tokenizer.model); where the two disagree, SentencePiece decides

Output: tests/reference/spm_stories/tokens.json  {"texts": [...], "sentencepiece": [[ids]],
"transformers": [[ids]],
"disagree": [text indices]}, ids without BOS (add_special_tokens=False / sp.encode).

Run once (no torch needed):
  python3 -m venv ~/.cache/skvq/tokvenv
  ~/.cache/skvq/tokvenv/bin/pip install sentencepiece==0.2.3 protobuf==7.36.2 \\
      transformers==5.24.0 tokenizers==0.23.3 numpy==2.4.6
  ~/.cache/skvq/tokvenv/bin/python tests/reference/make_spm_reference.py --data ../shared/data
"""

import argparse
import json
import os
import struct
import tempfile

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2
from transformers import LlamaTokenizer

TEXTS = [
    "Once upon a time, there was a little girl named Lily.",
    "She liked to play outside in the park with her friends.",
    "The dog said: \"I am happy!\" and ran away.",
    "  two leading spaces and  double  gaps",
    "numbers 1234567 and 3.14",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "\u4e2d\u6587\u5b57",
    "emoji \U0001F600 end",
    "tabs\tand\nnewlines\n\nhere",
    "zzqx unknownish wordz",
    "",
    " ",
]

UNKNOWN, NORMAL, CONTROL, BYTE = 2, 1, 3, 6  # llama.cpp token types (= sentencepiece's)


def read_llama2c_vocab(path):
    data = open(path, "rb").read()
    off = 4
    pieces, scores = [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n].decode("utf-8"))
        scores.append(score)
        off += n
    return pieces, scores


def spm_pieces(pieces):
    """Pieces as SentencePiece stores them, with their types."""
    out = []
    for i, p in enumerate(pieces):
        if i == 0:
            out.append(("<unk>", UNKNOWN))
        elif i in (1, 2):
            out.append((p.strip("\n"), CONTROL))
        elif len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            out.append((p, BYTE))
        else:
            out.append((p.replace(" ", "\u2581"), NORMAL))
    return out


def model_proto(pieces, scores):
    m = sp_pb2.ModelProto()
    m.trainer_spec.model_type = sp_pb2.TrainerSpec.BPE
    m.trainer_spec.vocab_size = len(pieces)
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id, m.trainer_spec.bos_id, m.trainer_spec.eos_id, m.trainer_spec.pad_id = 0, 1, 2, -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    for (piece, kind), score in zip(spm_pieces(pieces), scores):
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, score, kind
    return m.SerializeToString()


def sentencepiece_ids(model_proto):
    sp = spm.SentencePieceProcessor(model_proto=model_proto)
    return [sp.encode(t) for t in TEXTS]


def transformers_ids(model_proto):
    """transformers' own SentencePiece-to-tokenizers conversion (LlamaTokenizer from a
    tokenizer.model, non-legacy). Its GGUF loader needs torch, which this script avoids."""
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "tokenizer.model"), "wb") as f:
        f.write(model_proto)
    tok = LlamaTokenizer.from_pretrained(tmp)
    return [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/data"))
    args = ap.parse_args()
    pieces, scores = read_llama2c_vocab(os.path.join(args.data, "models/stories260K/tok512.bin"))
    proto = model_proto(pieces, scores)
    out = {"texts": TEXTS, "sentencepiece": sentencepiece_ids(proto), "transformers": transformers_ids(proto)}
    # Where they differ (runs of leading spaces: transformers' Metaspace handling), the
    # SentencePiece library is the model's own tokenizer and decides; llama.cpp follows it too.
    out["disagree"] = [i for i, (a, b) in enumerate(zip(out["sentencepiece"], out["transformers"])) if a != b]
    dest = os.path.join(os.path.dirname(__file__), "spm_stories")
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "tokens.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    for t, a, b in zip(TEXTS, out["sentencepiece"], out["transformers"]):
        print(("same " if a == b else "DIFF ") + repr(t), a if a == b else (a, b))


if __name__ == "__main__":
    main()
