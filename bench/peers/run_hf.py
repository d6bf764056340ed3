#!/usr/bin/env python3
"""Hugging Face peer rows: transformers' DynamicCache and QuantizedCache (quanto int4, int2).

Loads SmolLM2-135M-Instruct from the same Q4_1 GGUF as the llama.cpp and skvq rows (transformers
dequantizes it to float32) and measures, per cache configuration, on the first --chunks chunks of
the same WikiText-2 slice file (build/peers/wiki-slice.txt, written by run_peers.py):

- ppl, protocol "hf-incremental": each chunk of --ctx tokens (no BOS, as llama.cpp does for this
  GGUF, whose tokenizer.ggml.add_bos_token is false) is fed ONE TOKEN AT A TIME through a fresh
  cache, so every attention reads the cache as it is during decoding (for quanto: the quantized
  part plus the fp residual of the last < residual_length tokens). Scored like llama.cpp's
  llama-perplexity: the second half of each chunk (ctx - 1 - ctx/2 tokens per chunk). The mean over
  all tokens but the first of each chunk is kept as ppl_all_but_first.
  A single forward over a whole chunk would NOT test the quantized cache: QuantizedCache returns
  the fresh fp keys/values to the forward that writes them.
- greedy_text: model.generate(..., do_sample=False) of --new-tokens tokens after --prompt, with
  cache_implementation="quantized" and the same cache_config for the quanto rows.
- kv_bytes_per_token / bits_k / bits_v: steady state, measured from the cache tensors after a
  chunk (quanto: packed codes + scale + shift per group of 64; the last < residual_length tokens
  held in fp are a constant, excluded and reported as residual_bytes_max). The model runs in float32,
  so fp keys/values and quanto's scales/shifts are float32; *_at_fp16 give the figure for fp16.
- prompt_tokens_per_s: one forward of a whole chunk into a fresh cache of the row's kind;
  decode_tokens_per_s {"<context>": tok/s}: greedy steps after a prefill of <context> tokens.
- peak_rss_mb: resource.getrusage of a child process that runs one configuration.

Merges its rows (system "transformers") into build/peers/peers.json, replacing only the rows of the
configurations it ran, and prints a markdown table of them. Runs itself inside build/peers/hfvenv, which it creates from
bench/peers/hf-requirements.txt when missing. Called by bench/peers/run.sh (skip with --no-hf).
"""
import argparse
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SYSTEM = "transformers"
KINDS = {"fp": None, "int4": 4, "int2": 2}  # --configs entry -> quanto nbits (None: DynamicCache)


def config_name(kind, a):
    """The row's config: dynamic-fp32, or quanto-int<bits>-g<q_group_size>-r<residual_length>."""
    return "dynamic-fp32" if KINDS[kind] is None else f"quanto-{kind}-g{a.group}-r{a.residual}"


def config_label(kind, a):
    if KINDS[kind] is None:
        return "DynamicCache, float32 (the model runs in float32)"
    return (f"QuantizedCache quanto {kind}, q_group_size {a.group}, residual_length {a.residual}, axis 0 for K and V "
            f"(groups of {a.group} channels of one token and head, min-max with scale and shift)")


def die(msg):
    print("peers: error: " + msg, file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- virtual environment

def ensure_venv(venv, requirements):
    """Creates venv and installs requirements when the stamp of the installed set is missing or stale."""
    py = os.path.join(venv, "bin", "python")
    want = hashlib.sha256(open(requirements, "rb").read()).hexdigest()
    stamp = os.path.join(venv, ".skvq-requirements.sha256")
    if os.path.exists(py) and os.path.exists(stamp) and open(stamp).read().strip() == want:
        return py
    if not os.path.exists(py):
        print(f"hf: creating {venv} ...", file=sys.stderr, flush=True)
        if subprocess.run([sys.executable, "-m", "venv", venv]).returncode != 0:
            die(f"could not create the virtual environment {venv} (python3 -m venv; Debian needs python3-venv)")
    log = venv + ".pip.log"
    print(f"hf: installing {requirements} into {venv} (torch is a large download) ...", file=sys.stderr, flush=True)
    with open(log, "w") as f:
        rc = subprocess.run([py, "-m", "pip", "install", "-r", requirements], stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        tail = open(log).read()[-1500:]
        die(f"pip could not install {requirements} (exit {rc}); is the Python package registry reachable "
            f"(pip config list shows the index)? Last lines of {log}:\n{tail}")
    with open(stamp, "w") as f:
        f.write(want + "\n")
    return py


# ---------------------------------------------------------------- worker: one configuration

def tensor_bytes(t):
    """Bytes held by a tensor, following quanto's wrapper subclasses (__tensor_flatten__) down to plain tensors."""
    if hasattr(t, "__tensor_flatten__"):
        names, _ = t.__tensor_flatten__()
        return sum(tensor_bytes(getattr(t, n)) for n in names)
    return t.numel() * t.element_size()


def cache_bytes(cache):
    """(quantized_bytes, quantized_tokens, fp_bytes, fp_tokens) summed over layers, K and V together."""
    qb = qt = fb = ft = 0
    for layer in cache.layers:
        if getattr(layer, "_quantized_keys", None) is not None:
            qb += tensor_bytes(layer._quantized_keys) + tensor_bytes(layer._quantized_values)
            qt = layer._quantized_keys.shape[-2]
        if layer.keys is not None and layer.keys.dim() == 4:
            fb += tensor_bytes(layer.keys) + tensor_bytes(layer.values)
            ft = layer.keys.shape[-2]
    return qb, qt, fb, ft


def worker(a):
    import torch
    import transformers
    from optimum import quanto
    from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, QuantizedCache

    torch.set_num_threads(a.threads)
    nbits = KINDS[a.worker]
    t0 = time.time()
    mdir, mfile = os.path.dirname(a.model), os.path.basename(a.model)
    tok = AutoTokenizer.from_pretrained(mdir, gguf_file=mfile)
    model = AutoModelForCausalLM.from_pretrained(mdir, gguf_file=mfile, dtype=torch.float32).eval()
    load_s = time.time() - t0
    cfg = model.config
    cache_config = None if nbits is None else {"backend": "quanto", "nbits": nbits, "q_group_size": a.group,
                                               "residual_length": a.residual}

    def new_cache():
        if nbits is None:
            return DynamicCache(config=cfg)
        return QuantizedCache("quanto", cfg, nbits=nbits, q_group_size=a.group, residual_length=a.residual)

    text = open(a.slice, encoding="utf-8").read()
    ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids[0]
    L = a.ctx
    slice_chunks = ids.numel() // L
    if slice_chunks < max(2, a.chunks):
        die(f"{a.slice}: {ids.numel()} tokens, fewer than {max(2, a.chunks)} chunks of {L}")
    first = L // 2
    res = {"config": config_name(a.worker, a), "label": config_label(a.worker, a), "load_seconds": load_s,
           "slice_tokens": int(ids.numel())}

    with torch.inference_mode():
        # Prefill speed (and, for fp, the one-shot PPL of the first --slice-chunks chunks: on the first
        # --chunks the reference the incremental figure must match, on all of them the figure to set
        # beside the other systems' rows, which run_peers.py measures on --chunks 8 of the same file).
        n_shot = min(slice_chunks, a.slice_chunks) if nbits is None else a.chunks
        nll_shot, secs_shot = [], 0.0
        for c in range(n_shot):
            x = ids[c * L:(c + 1) * L].unsqueeze(0)
            t = time.time()
            logits = model(x, cache=new_cache(), use_cache=True).logits[0]
            secs_shot += time.time() - t
            lp = torch.log_softmax(logits[first:L - 1].double(), -1)
            nll_shot.append(-lp.gather(-1, x[0, first + 1:].unsqueeze(-1)).sum().item())
        res["prompt_tokens_per_s"] = n_shot * L / secs_shot
        if nbits is None:
            res["ppl_oneshot_first_chunks"] = math.exp(sum(nll_shot[:a.chunks]) / (a.chunks * (L - 1 - first)))
            res["ppl_oneshot_slice"] = math.exp(sum(nll_shot) / (n_shot * (L - 1 - first)))
            res["oneshot_slice_chunks"] = n_shot

        # Perplexity through the cache: one token per forward.
        nll_half, nll_all, t = 0.0, 0.0, time.time()
        for c in range(a.chunks):
            x = ids[c * L:(c + 1) * L]
            cache = new_cache()
            for j in range(L - 1):
                logits = model(x[j:j + 1].unsqueeze(0), cache=cache, use_cache=True).logits[0, -1]
                nll = -torch.log_softmax(logits.double(), -1)[x[j + 1]].item()
                nll_all += nll
                if j >= first:
                    nll_half += nll
            print(f"hf {res['config']}: chunk {c + 1}/{a.chunks} done, {time.time() - t:.0f} s", file=sys.stderr, flush=True)
        inc_s = time.time() - t
        res["ppl"] = math.exp(nll_half / (a.chunks * (L - 1 - first)))
        res["ppl_all_but_first"] = math.exp(nll_all / (a.chunks * (L - 1)))
        res["tokens"] = a.chunks * (L - 1 - first)
        res["incremental_tokens_per_s"] = a.chunks * (L - 1) / inc_s
        res["ppl_seconds"] = inc_s

        # KV bytes per token, steady state, from the last chunk's cache (L - 1 tokens).
        qb, qt, fb, ft = cache_bytes(cache)
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        elems = cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 2  # K and V elements per token
        if nbits is None:
            per_tok = fb / ft
            res["kv_bytes_per_token_measured"] = per_tok
            at_fp16 = elems * 2
            res["residual_bytes_max"] = 0
        else:
            groups = elems // a.group
            per_tok = elems * nbits / 8 + groups * 2 * 4  # codes + float32 scale and shift per group
            res["kv_bytes_per_token_measured"] = qb / qt  # packing pads an odd row count: a little over
            if abs(qb / qt - per_tok) > 0.01 * per_tok:
                print(f"hf: warning: measured {qb / qt:.1f} B/token, expected {per_tok}", file=sys.stderr)
            at_fp16 = elems * nbits / 8 + groups * 2 * 2
            res["residual_bytes_max"] = (a.residual - 1) * elems * 4
            res["cache_state_after_chunk"] = {"quantized_tokens": qt, "fp_residual_tokens": ft}
        res["kv_bytes_per_token"] = per_tok
        res["bits_k"] = res["bits_v"] = per_tok * 8 / elems
        res["kv_bytes_per_token_at_fp16"] = at_fp16
        res["bits_at_fp16"] = at_fp16 * 8 / elems

        # Decode speed after a prefill of d tokens of the slice (d = 0: one token).
        decode = {}
        for d in [int(s) for s in a.depths.split(",") if s]:
            cache = new_cache()
            x = ids[: max(1, d)].unsqueeze(0)
            nxt = model(x, cache=cache, use_cache=True).logits[0, -1].argmax().view(1, 1)
            t = time.time()
            for _ in range(a.decode_tokens):
                nxt = model(nxt, cache=cache, use_cache=True).logits[0, -1].argmax().view(1, 1)
            decode[str(d)] = a.decode_tokens / (time.time() - t)
        res["decode_tokens_per_s"] = decode
        res["decode_new_tokens"] = a.decode_tokens

        # Greedy text, through generate() as a user would call it.
        enc = tok(a.prompt, return_tensors="pt", add_special_tokens=False)
        kw = {} if nbits is None else {"cache_implementation": "quantized", "cache_config": cache_config}
        out = model.generate(**enc, max_new_tokens=a.new_tokens, do_sample=False, pad_token_id=tok.eos_token_id,
                             **kw)
        res["greedy_prompt"] = a.prompt
        res["greedy_text"] = tok.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=False)

    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    res["version"] = f"transformers {transformers.__version__} / torch {torch.__version__} / optimum-quanto {quanto.__version__}"
    res["worker_seconds"] = time.time() - t0
    with open(a.out, "w") as f:
        json.dump(res, f)


# ---------------------------------------------------------------- parent: rows, merge, table

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows):
    depths = sorted({k for r in rows for k in r["decode_tokens_per_s"]}, key=int)
    head = (["config", "bits K/V (at fp16)", "KV B/token (at fp16)", "PPL hf-incremental", "PPL all-but-first",
             "prefill tok/s"] + [f"decode tok/s @{d}" for d in depths] + ["peak RSS MiB", "greedy text"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["config"], f"{r['bits_k']:.2f} ({r['bits_at_fp16']:.2f})",
                 f"{r['kv_bytes_per_token']:.0f} ({r['kv_bytes_per_token_at_fp16']:.0f})", fmt(r["ppl"], ".4f"),
                 fmt(r["ppl_all_but_first"], ".4f"), fmt(r["prompt_tokens_per_s"], ".0f")]
        cells += [fmt(r["decode_tokens_per_s"].get(d), ".1f") for d in depths]
        cells += [fmt(r["peak_rss_mb"], ".0f"), json.dumps(r["greedy_text"])[1:-1].replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)



def report(rows):
    """Prints the table of the transformers rows (this run's and those an earlier run left in peers.json)."""
    same = lambda k: ", ".join(str(v) for v in sorted({r[k] for r in rows}, key=str))
    print(f"\nSmolLM2-135M-Instruct Q4_1 GGUF (dequantized to float32), {same('text')}: first {same('chunks')} "
          f"chunks of {same('ctx_len')}, fed token by token; {same('threads')} threads; {same('version')}\n")
    print(table(rows))
    fp = [r for r in rows if r["config"] == "dynamic-fp32"]
    if fp:
        r = fp[0]
        print(f"\nfp check: one forward per chunk gives PPL {r['ppl_oneshot_first_chunks']:.4f} on the same "
              f"{r['chunks']} chunks (incremental {r['ppl']:.4f}); on the first {r['oneshot_slice_chunks']} chunks "
              f"{r['ppl_oneshot_slice']:.4f}: the figure to set beside the llama.cpp f16 / skvq fp16 rows")
        for q in rows:
            if q is not r and q["chunks"] == r["chunks"]:
                print(f"{q['config']}: PPL {100 * (q['ppl'] / r['ppl'] - 1):+.2f} % vs DynamicCache on the same chunks")
    print("KV B/token: steady state (quanto: codes + float32 scale and shift per 64; the < residual_length fp "
          "tokens are a constant, excluded); in parentheses the same at fp16")

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/skvq/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--wiki", default=os.path.join(os.path.dirname(ROOT), "shared/data/text/wikitext2/wiki.test.raw"))
    ap.add_argument("--slice", help="slice file (default: build/peers/wiki-slice.txt, written when missing)")
    ap.add_argument("--skip-bytes", type=int, default=700000, help="as run_peers.py, when the slice is written here")
    ap.add_argument("--slice-chunks", type=int, default=8,
                    help="as run_peers.py --chunks: sizes the slice when it is written here, and the fp row's one-shot PPL")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=4, help="chunks fed token by token (slow: ~0.1 s a token)")
    ap.add_argument("--group", type=int, default=64, help="quanto q_group_size")
    ap.add_argument("--residual", type=int, default=128, help="quanto residual_length")
    ap.add_argument("--depths", default="0,1024", help="decode speed after a prefill of this many tokens")
    ap.add_argument("--decode-tokens", type=int, default=32)
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--configs", default=",".join(KINDS), help="of fp, int4, int2")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "build/peers"))
    ap.add_argument("--venv", default=os.path.join(ROOT, "build/peers/hfvenv"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)

    sys.path.insert(0, HERE)
    from run_peers import sha256_file, write_slice  # the same slice and hashes as the other rows

    for c in a.configs.split(","):
        if c not in KINDS:
            die(f"unknown configuration '{c}' (known: {', '.join(KINDS)})")
    for p, what in ((a.model, "model (scripts/fetch-models.sh)"), (a.wiki, "WikiText-2 text (set --wiki)")):
        if not os.path.isfile(p):
            die(f"{p}: missing {what}")
    os.makedirs(a.out_dir, exist_ok=True)
    py = ensure_venv(a.venv, os.path.join(HERE, "hf-requirements.txt"))
    if not a.slice:
        a.slice = os.path.join(a.out_dir, "wiki-slice.txt")
        if not os.path.exists(a.slice):
            write_slice(a.wiki, a.slice, a.skip_bytes, a.slice_chunks * a.ctx * 7 + 4096)
    t0 = time.time()
    rows = []
    common = {"system": SYSTEM, "model": a.model, "model_sha256": sha256_file(a.model), "text": a.slice,
              "text_sha256": sha256_file(a.slice), "ctx_len": a.ctx, "threads": a.threads, "chunks": a.chunks,
              "protocol": "hf-incremental",
              "protocol_detail": f"chunks of {a.ctx} tokens without BOS fed one token per forward through the cache; "
                                 f"ppl scores the second half of each chunk as llama-perplexity does, "
                                 f"ppl_all_but_first every token but the first",
              "ppl_eval_tokens_per_s": None}
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), TOKENIZERS_PARALLELISM="false",
               TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    for c in a.configs.split(","):
        print(f"hf {config_name(c, a)}: running ({a.chunks} chunks of {a.ctx}, token by token) ...", file=sys.stderr, flush=True)
        out = os.path.join(a.out_dir, f"hf-{c}.json")
        cmd = [py, os.path.abspath(__file__), "--worker", c, "--out", out, "--model", a.model, "--slice", a.slice]
        for k in ("threads", "ctx", "chunks", "slice_chunks", "group", "residual", "depths", "decode_tokens", "prompt", "new_tokens"):
            cmd += ["--" + k.replace("_", "-"), str(getattr(a, k))]
        log = os.path.join(a.out_dir, f"hf-{c}.log")
        with open(log, "w") as f:
            rc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            die(f"{config_name(c, a)} failed (exit {rc}); last lines of {log}:\n" + open(log).read()[-2000:])
        r = json.load(open(out))
        r.update(common)
        rows.append(r)
        print(f"hf {r['config']}: ppl {r['ppl']:.4f} in {r['worker_seconds']:.0f} s", file=sys.stderr, flush=True)

    path = os.path.join(a.out_dir, "peers.json")
    new = {r["config"] for r in rows}  # an earlier run's rows of other systems and configurations stay
    kept = [r for r in json.load(open(path)) if r.get("system") != SYSTEM or r.get("config") not in new] \
        if os.path.exists(path) else []
    order = [config_name(k, a) for k in KINDS]
    hf = sorted([r for r in kept + rows if r.get("system") == SYSTEM],
                key=lambda r: order.index(r["config"]) if r["config"] in order else len(order))
    with open(path, "w") as f:  # the importer reads strict JSON
        json.dump([r for r in kept if r.get("system") != SYSTEM] + hf, f, indent=1, allow_nan=False)
    report(hf)
    print(f"\nmerged {len(rows)} {SYSTEM} rows into {path} ({len(kept)} other rows kept) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
