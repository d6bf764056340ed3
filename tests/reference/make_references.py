#!/usr/bin/env python3
"""Independent reference outputs from Hugging Face transformers for the C++ tests.

What it makes (everything under tests/reference/, every file small):
  smollm2/tokenizer.json, smollm2/tokenizer_config.json
      the tokenizer that transformers builds from the GGUF file (save_pretrained output)
  smollm2/tokens.json      token ids of a set of texts (tokenizer(text, add_special_tokens=True))
  smollm2/logits.json      last-position logits (top 20, logsumexp, argmax, mean, max |x|) of the
                           GGUF model, dequantized to float32 by transformers
  smollm2/logits_<name>.f32  the whole last-position logit vector of two prompts
                           (vocab_size little-endian float32 values, no header)
  smollm2/greedy.json      greedy continuations (do_sample=False) of three prompts
  tiny/<name>/             tiny random checkpoints saved by transformers (config.json,
                           model.safetensors) and logits.json with the logits at all positions

How to run it (once, by a developer; CI never runs it and never installs torch):
  python3 -m venv ~/.cache/skvq/refvenv
  ~/.cache/skvq/refvenv/bin/pip install -r tests/reference/requirements.txt
  ~/.cache/skvq/refvenv/bin/python tests/reference/make_references.py \
      --model ~/.cache/skvq/models/SmolLM2-135M-Instruct.Q4_1.gguf
(`bash scripts/fetch-models.sh` puts the GGUF file there.)

All computation is float32 on the CPU with a fixed torch.manual_seed.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch

import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234

MAJOR = int(transformers.__version__.split(".")[0])
# transformers 5 renamed from_pretrained's torch_dtype to dtype.
DTYPE_KW = "dtype" if MAJOR >= 5 else "torch_dtype"


def versions():
    from importlib.metadata import version
    out = {name: version(name) for name in
           ("transformers", "torch", "gguf", "tokenizers", "safetensors", "numpy", "accelerate")}
    out["python"] = sys.version.split()[0]
    return out


def source_string():
    v = versions()
    return "transformers %s, torch %s, gguf %s, tokenizers %s (CPU, float32)" % (
        v["transformers"], v["torch"], v["gguf"], v["tokenizers"])


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def f(x):
    """A float as a JSON number with enough digits to round-trip float32."""
    return float("%.9g" % float(x))


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1)
        fh.write("\n")


def read_prefix(path, n):
    with open(path, "r", encoding="utf-8") as fh:
        text = fh.read(n * 2)
    text = text[:n]
    # end at a word boundary so the snippet is stable to describe
    cut = text.rfind(" ")
    return text[:cut] if cut > n // 2 else text


def texts(data_dir):
    ts = read_prefix(os.path.join(data_dir, "tinystories", "tinystories_val.txt"), 600)
    wk = read_prefix(os.path.join(data_dir, "wikitext2", "wiki.test.raw"), 600)
    return [
        ("english", "The quick brown fox jumps over the lazy dog. Scientists have long studied "
                    "how language models learn grammar. Today, we will see whether a small "
                    "model can follow simple instructions."),
        ("python", "def add(a, b):\n    \"\"\"Return the sum.\"\"\"\n    if a is None:\n"
                   "        return b\n    return a + b\n\n\nclass Point:\n    def __init__(self, x, y):\n"
                   "        self.x, self.y = x, y\n"),
        ("digits", "In 2024, 1234567 people paid $3.50 each; pi=3.14159."),
        ("whitespace", "a  b   c    d\t\te\t \tf\n\n\ng\n\n\n\nh   \n  i    "),
        ("accented", "Crème brûlée à la française, naïve façade, Ærøskøbing, Łódź"),
        ("chinese", "我们今天去公园散步，天气很好。"),
        ("emoji", "I love pizza 🍕🍕 and 👩‍💻 coding! ✨"),
        ("needle", "The best thing to do in San Francisco is eat a sandwich and sit in Dolores "
                   "Park on a sunny day."),
        ("tinystories", ts),
        ("wikitext2", wk),
        ("chatml", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"),
        ("contractions", "I'M sure you'll see they've GONE, isn't it? DON'T"),
        ("mixed_scripts", "Привет, мир! Καλημέρα κόσμε. مرحبا بالعالم. नमस्ते दुनिया. "
                          "こんにちは、カタカナもひらがなも。"),
        ("unicode_digits", "x1y22z333 4444 a5 6b 7.8.9 ½ ² ³ ١٢٣ ४५६ ٣ 12abc"),
        ("empty", ""),
        ("single_space", " "),
    ]


LOGIT_PROMPTS = ["english", "python", "digits", "needle", "chatml", "contractions",
                 "tinystories", "mixed_scripts"]
FULL_VECTOR_PROMPTS = ["needle", "chatml"]


def make_smollm2(model_path, data_dir, out_dir):
    gguf_dir, gguf_name = os.path.split(os.path.abspath(model_path))
    model_sha = sha256_of(model_path)
    src = source_string()
    os.makedirs(out_dir, exist_ok=True)

    # a. tokenizer
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        print("save_pretrained wrote:", sorted(os.listdir(tmp)))
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(tmp, name), os.path.join(out_dir, name))
    print("tokenizer.json bytes:", os.path.getsize(os.path.join(out_dir, "tokenizer.json")))

    # b. token ids. "ids" is transformers' own answer. transformers' GGUF converter gives the
    # tokenizer a plain ByteLevel pre-tokenizer whatever tokenizer.ggml.pre says; the original
    # SmolLM2 tokenizer.json (and llama.cpp's "smollm" pre-tokenizer) first split every
    # Unicode digit on its own. "ids_digits_pretokenizer" is the same vocabulary and merges with
    # pre_tokenizer Sequence[Digits(individual_digits), ByteLevel] (built here, not by
    # transformers); the two differ only on texts with non-ASCII digits (unicode_digits).
    from tokenizers import Tokenizer
    tj = json.loads(tok.backend_tokenizer.to_str())
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": True}]}
    digits_tok = Tokenizer.from_str(json.dumps(tj))
    entries = []
    ids_by_name = {}
    for name, text in texts(data_dir):
        ids = tok(text, add_special_tokens=True)["input_ids"]
        ids = [int(i) for i in ids]
        ids_by_name[name] = ids
        ids_d = [int(i) for i in digits_tok.encode(text, add_special_tokens=True).ids]
        entries.append({"name": name, "text": text, "ids": ids,
                        "ids_digits_pretokenizer": ids_d,
                        "same_with_digits_pretokenizer": ids_d == ids,
                        "decoded": tok.decode(ids, skip_special_tokens=False)})
    write_json(os.path.join(out_dir, "tokens.json"), {
        "source": src, "model": gguf_name, "model_sha256": model_sha,
        "call": "tokenizer(text, add_special_tokens=True)['input_ids']",
        "ids_digits_pretokenizer": "same vocab/merges, pre_tokenizer Sequence[Digits("
                                   "individual_digits=true), ByteLevel(add_prefix_space=false)]"
                                   " (the original SmolLM2 tokenizer.json's); not transformers'"
                                   " GGUF conversion",
        "texts": entries})

    # c. logits
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name,
                                                 **{DTYPE_KW: torch.float32})
    model.eval()
    vocab = model.config.vocab_size
    prompts = []
    with torch.no_grad():
        for name in LOGIT_PROMPTS:
            ids = ids_by_name[name]
            if not ids:
                continue
            out = model(torch.tensor([ids], dtype=torch.long))
            last = out.logits[0, -1].to(torch.float32)
            assert last.shape[0] == vocab
            vals, idx = torch.topk(last, 20)
            entry = {
                "name": name, "ids": ids, "n_tokens": len(ids),
                "top20": [[int(i), f(v)] for i, v in zip(idx.tolist(), vals.tolist())],
                "logsumexp": f(torch.logsumexp(last.double(), 0).item()),
                "argmax": int(torch.argmax(last).item()),
                "mean": f(last.double().mean().item()),
                "max_abs": f(last.abs().max().item()),
            }
            if name in FULL_VECTOR_PROMPTS:
                fname = "logits_%s.f32" % name
                last.numpy().astype("<f4").tofile(os.path.join(out_dir, fname))
                entry["full_logits_file"] = fname
            prompts.append(entry)
            print("logits", name, "argmax", entry["argmax"], repr(tok.decode([entry["argmax"]])))
    write_json(os.path.join(out_dir, "logits.json"), {
        "source": src, "model": gguf_name, "model_sha256": model_sha,
        "weights": "GGUF Q4_1 tensors dequantized to float32 by transformers at load",
        "compute_dtype": "float32", "device": "cpu", "vocab_size": vocab,
        "position": "last position of the prompt (logits[0, -1])",
        "full_logits_format": "vocab_size little-endian float32, no header",
        "prompts": prompts})

    # d. greedy
    chat_prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        tokenize=False, add_generation_prompt=True)
    greedy_prompts = [("once_upon", "Once upon a time", False),
                      ("chat_capital", chat_prompt, True),
                      ("fibonacci", "def fibonacci(n):", False)]
    eos = model.generation_config.eos_token_id
    pad = model.generation_config.pad_token_id
    if pad is None:
        pad = eos if isinstance(eos, int) else (eos[0] if eos else 0)
    results = []
    with torch.no_grad():
        for name, text, templated in greedy_prompts:
            ids = [int(i) for i in tok(text, add_special_tokens=True)["input_ids"]]
            inp = torch.tensor([ids], dtype=torch.long)
            mask = torch.ones_like(inp)
            gen = model.generate(inp, attention_mask=mask, max_new_tokens=30, do_sample=False,
                                 pad_token_id=pad)
            new_ids = [int(i) for i in gen[0, len(ids):].tolist()]
            gen2 = model.generate(inp, attention_mask=mask, max_new_tokens=30, min_new_tokens=30,
                                  do_sample=False, pad_token_id=pad, eos_token_id=None)
            new_ids2 = [int(i) for i in gen2[0, len(ids):].tolist()]
            entry = {"name": name, "prompt_text": text, "chat_template_applied": templated,
                     "prompt_ids": ids, "new_ids": new_ids,
                     "new_text": tok.decode(new_ids, skip_special_tokens=False),
                     "stopped_on_eos": len(new_ids) < 30,
                     "new_ids_ignore_eos": new_ids2,
                     "new_text_ignore_eos": tok.decode(new_ids2, skip_special_tokens=False)}
            if templated:
                entry["chat_messages"] = [{"role": "user",
                                           "content": "What is the capital of France?"}]
            results.append(entry)
            print("greedy", name, repr(entry["new_text"]))
    write_json(os.path.join(out_dir, "greedy.json"), {
        "source": src, "model": gguf_name, "model_sha256": model_sha,
        "compute_dtype": "float32", "device": "cpu",
        "settings": {"do_sample": False, "max_new_tokens": 30,
                     "eos_token_id": eos, "pad_token_id": pad,
                     "new_ids": "stops after the first eos_token_id (eos included) if reached",
                     "new_ids_ignore_eos": "exactly 30 tokens, eos not treated specially"},
        "results": results})
    del model


# ---------------------------------------------------------------------------- tiny checkpoints

TINY_VOCAB = 256
TINY_LEN = 24


def perturb(model, seed, std=0.2):
    """Make norm weights and biases non-trivial (the default init sets them to 1 and 0)."""
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + std * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(std * torch.randn(p.shape, generator=g))


def tiny_common():
    return dict(vocab_size=TINY_VOCAB, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=64, rope_theta=10000.0, rms_norm_eps=1e-5,
                initializer_range=0.2, hidden_act="silu", bos_token_id=1, eos_token_id=2)


def add_legacy_config_keys(path):
    """transformers 5 writes rope_parameters {rope_theta, rope_type, ...} and dtype; most
    checkpoints in the wild (written by transformers 4) have rope_theta, rope_scaling and
    torch_dtype instead. Write both spellings; transformers 5 reads either (the logits below
    are computed from the config as rewritten here)."""
    with open(path, encoding="utf-8") as fh:
        cfg = json.load(fh)
    rp = cfg.get("rope_parameters")
    if isinstance(rp, dict):
        if "rope_theta" in rp:
            cfg["rope_theta"] = rp["rope_theta"]
        scaling = {k: v for k, v in rp.items() if k != "rope_theta"}
        cfg["rope_scaling"] = scaling if scaling.get("rope_type", "default") != "default" else None
    if "dtype" in cfg and "torch_dtype" not in cfg:
        cfg["torch_dtype"] = cfg["dtype"]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
        fh.write("\n")


def make_tiny(name, model_cls, config, out_root, seed, save_dtype=torch.float32, note=None):
    out_dir = os.path.join(out_root, name)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    torch.manual_seed(seed)
    model = model_cls(config)
    perturb(model, seed)
    model.eval()
    if save_dtype != torch.float32:
        model = model.to(save_dtype)
    model.save_pretrained(out_dir, safe_serialization=True)
    for extra in os.listdir(out_dir):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out_dir, extra))
    add_legacy_config_keys(os.path.join(out_dir, "config.json"))

    # reload from disk, upcast to float32, compute
    reloaded = model_cls.from_pretrained(out_dir, **{DTYPE_KW: torch.float32})
    reloaded.eval()
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(0, TINY_VOCAB, (TINY_LEN,), generator=g).tolist()
    with torch.no_grad():
        logits = reloaded(torch.tensor([ids], dtype=torch.long)).logits[0].to(torch.float32)
    if save_dtype == torch.float32:
        with torch.no_grad():
            before = model(torch.tensor([ids], dtype=torch.long)).logits[0]
        diff = (before - logits).abs().max().item()
        assert diff < 1e-4, "reloaded checkpoint differs from the saved model: %g" % diff
    rot = getattr(reloaded.model, "rotary_emb", None)
    inv_freq = None
    if rot is not None and hasattr(rot, "inv_freq"):
        inv_freq = [f(x) for x in rot.inv_freq.to(torch.float32).tolist()]
    obj = {
        "source": source_string(), "model_class": model_cls.__name__,
        "weights_dtype": str(save_dtype).replace("torch.", ""),
        "compute_dtype": "float32",
        "compute_note": note or "weights loaded with from_pretrained(dtype=float32); CPU",
        "seed": seed, "input_ids_seed": SEED + 1, "input_ids": [int(i) for i in ids],
        "shape": list(logits.shape),
        "rope_inv_freq_after_scaling": inv_freq,
        "logits": [[f(v) for v in row] for row in logits.tolist()],
        "argmax": [int(i) for i in logits.argmax(-1).tolist()],
    }
    write_json(os.path.join(out_dir, "logits.json"), obj)
    print("tiny", name, "bytes", {n: os.path.getsize(os.path.join(out_dir, n))
                                  for n in sorted(os.listdir(out_dir))},
          "logit std %.3f" % logits.std().item())


def make_tinies(out_root):
    from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                              Qwen2Config, Qwen2ForCausalLM)
    c = tiny_common()
    # head_dim 16, theta 1e4: wavelengths 2*pi*theta^(2i/16) = 6.3, 19.9, 62.8, 199, ...
    # original 32, low 1, high 4: high-frequency band (< 8) i=0, smoothed band (8..32) i=1,
    # low-frequency band (> 32, divided by 8) i>=2.
    rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
    llama_cfg = LlamaConfig(**c, head_dim=16, tie_word_embeddings=False, rope_scaling=rope,
                            attention_bias=False, mlp_bias=False)
    make_tiny("llama3_rope", LlamaForCausalLM, llama_cfg, out_root, SEED + 100)

    qwen_cfg = Qwen2Config(**c, tie_word_embeddings=True, use_sliding_window=False)
    make_tiny("qwen2_bias_tied", Qwen2ForCausalLM, qwen_cfg, out_root, SEED + 200)

    mistral_cfg = MistralConfig(**c, head_dim=16, tie_word_embeddings=False, sliding_window=None)
    make_tiny("mistral", MistralForCausalLM, mistral_cfg, out_root, SEED + 300)

    bf_cfg = LlamaConfig(**c, head_dim=16, tie_word_embeddings=False)
    make_tiny("llama_bf16", LlamaForCausalLM, bf_cfg, out_root, SEED + 400,
              save_dtype=torch.bfloat16,
              note="weights stored as bfloat16; loaded with from_pretrained(dtype=float32), "
                   "i.e. every bf16 weight upcast exactly to float32, all compute float32; CPU")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.expanduser(
        "~/.cache/skvq/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--data-dir", default=os.environ.get(
        "SKVQ_DATA_DIR", os.path.join(HERE, "..", "..", "..", "shared", "data")))
    ap.add_argument("--only", choices=["smollm2", "tiny"], default=None)
    args = ap.parse_args()
    data_dir = os.path.join(os.path.abspath(args.data_dir), "text")
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    print("versions:", versions())
    if args.only in (None, "smollm2"):
        make_smollm2(args.model, data_dir, os.path.join(HERE, "smollm2"))
    if args.only in (None, "tiny"):
        make_tinies(os.path.join(HERE, "tiny"))


if __name__ == "__main__":
    main()
