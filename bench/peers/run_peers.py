#!/usr/bin/env python3
"""Side by side with llama.cpp on the same model, text slice, protocol and threads.

Runs llama.cpp's llama-perplexity / llama-bench with KV cache types f16, q8_0, q4_0, q4_1, q5_0
and our `skvq ppl --protocol llama.cpp` / `skvq generate --stats` for our configurations,
prints one markdown table and writes build/peers/peers.json (see issue 11 for the row format).
Called by bench/peers/run.sh, which builds what is missing first.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time

# SmolLM2-135M: 30 layers x 3 K/V heads x 64 channels = 5760 elements of K (and of V) per token.
LLAMA_TYPES = {  # llama.cpp cache type -> stored bits per element (block bytes * 8 / 32)
    "f16": 16.0, "q8_0": 34 * 8 / 32, "q4_0": 18 * 8 / 32, "q4_1": 20 * 8 / 32, "q5_0": 22 * 8 / 32,
}
OUR_CONFIGS = [  # (config, label[, weight dtype: float32 unless given])
    ("fp16", "fp16"),
    ("fp16", "fp16 cache, bfloat16 weights and matmuls (oneDNN)", "bfloat16"),
    ("k8-v8-g32-rtn", "closest to q8_0, not identical (asymmetric min-max, fp16 scale+zero per 32)"),
    ("k4-v4-g32-rtn", "closest to q4_0, not identical (asymmetric min-max, fp16 scale+zero per 32)"),
    ("k8-v8-g32-sym", "q8_0 blocks (llama.cpp's rule, our channel order), no Hadamard rotation"),
    ("k4-v4-g32-sym", "q4_0 blocks (llama.cpp's rule, our channel order), no Hadamard rotation"),
    ("k8-v8-g32-sym-had", "q8_0 blocks after a Walsh-Hadamard rotation per KV head (llama.cpp's attn_rot)"),
    ("k4-v4-g32-sym-had", "q4_0 blocks after a Walsh-Hadamard rotation per KV head (llama.cpp's attn_rot)"),
    ("k2-v2-g32-KIVI", "KIVI-2"),
    ("k2-v2-g32-rtn", "RTN-2"),
    ("k2-v2-g32-reorder-pre_rope-clip-sink5-fp8", "SKVQ 2-bit"),
    ("k2-v2-g32-reorder-pre_rope-clip-sink5-fp8", "SKVQ 2-bit, bfloat16 weights and matmuls (oneDNN)", "bfloat16"),
]


def run(cmd, log):
    """Runs cmd, appends its output to log; returns (rc, stdout, stderr, seconds)."""
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    with open(log, "a") as f:
        f.write("\n$ " + " ".join(cmd) + "\n" + p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def run_rss(cmd, log):
    """Like run but measures the child's peak RSS (MiB) with wait4."""
    t0 = time.time()
    with open(log, "a") as f:
        f.write("\n$ " + " ".join(cmd) + "\n")
        f.flush()
        out_path, err_path = log + ".out", log + ".err"
        with open(out_path, "w") as o, open(err_path, "w") as e:
            p = subprocess.Popen(cmd, stdout=o, stderr=e)
            _, status, ru = os.wait4(p.pid, 0)
        out, err = open(out_path).read(), open(err_path).read()
        f.write(out + err)
    rc = os.waitstatus_to_exitcode(status)
    return rc, out, err, ru.ru_maxrss / 1024.0, time.time() - t0


def die(msg):
    print("peers: error: " + msg, file=sys.stderr)
    sys.exit(1)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_slice(src, dst, skip, max_bytes):
    data = open(src, "rb").read()[skip:skip + max_bytes]
    cut = data.rfind(b"\n")  # end on a line: both tokenizers see the same bytes
    data = data[: cut + 1] if cut > 0 else data
    with open(dst, "wb") as f:
        f.write(data)
    return len(data)


def llama_rows(a, version, log):
    rows = []
    for t in a.types.split(","):
        if t not in LLAMA_TYPES:
            die(f"unknown llama.cpp cache type '{t}' (known: {', '.join(LLAMA_TYPES)})")
        bits = LLAMA_TYPES[t]
        print(f"llama.cpp {t}: perplexity ...", file=sys.stderr, flush=True)
        cmd = [a.llama_bin + "/llama-perplexity", "-m", a.model, "-f", a.slice, "-c", str(a.ctx), "--chunks",
               str(a.chunks), "-t", str(a.threads), "-fa", "on", "-ctk", t, "-ctv", t]
        rc, out, err, rss, secs = run_rss(cmd, log)
        repack = True
        if rc == -11:  # seen on some AMX machines: the repacked CPU kernels crash; plain ones work
            print(f"peers: warning: llama-perplexity crashed (SIGSEGV) for {t}; again with --no-repack "
                  "(its row is marked repack: false; its speed is then not llama.cpp's best)", file=sys.stderr)
            repack = False
            rc, out, err, rss, secs = run_rss(cmd + ["--no-repack"], log)
        if rc != 0:
            die(f"llama-perplexity failed for {t} (exit {rc}); see {log}")
        m = re.search(r"Final estimate: PPL = ([0-9.]+)", out + err)
        pe = re.search(r"prompt eval time =\s*([0-9.]+) ms /\s*(\d+) tokens", out + err)
        nchunks = re.search(r"calculating perplexity over (\d+) chunks", out + err)
        ppl_tps = int(pe.group(2)) / (float(pe.group(1)) / 1000) if pe else None
        # Newer builds print no "prompt eval time"; they time the first pass of n_seq chunks.
        sp = re.search(r"([0-9.]+) seconds per pass", out + err)
        nseq = re.search(r"n_seq\s*=\s*(\d+)", out + err)
        if ppl_tps is None and sp and nseq and float(sp.group(1)) > 0:
            ppl_tps = int(nseq.group(1)) * a.ctx / float(sp.group(1))
        print(f"llama.cpp {t}: llama-bench ...", file=sys.stderr, flush=True)
        bcmd = [a.llama_bin + "/llama-bench", "-m", a.model, "-t", str(a.threads), "-fa", "on", "-ctk", t, "-ctv", t,
                "-p", str(a.ctx), "-n", "64", "-d", a.depths, "-r", str(a.reps), "-o", "json"] + ([] if repack else ["--repack", "0"])
        brc, bout, berr, _, bsecs = run_rss(bcmd, log)
        decode, prompt = {}, None
        if brc == 0:
            for rec in json.loads(bout):
                if rec.get("n_gen", 0) > 0:
                    decode[str(rec["n_depth"])] = rec["avg_ts"]
                elif rec.get("n_depth", 0) == 0:
                    prompt = rec["avg_ts"]
        else:
            print(f"peers: warning: llama-bench failed for {t} (exit {brc}); see {log}", file=sys.stderr)
        rows.append({
            "system": "llama.cpp", "version": version, "config": t, "bits_k": bits, "bits_v": bits,
            "kv_bytes_per_token": 5760 * 2 * bits / 8, "ppl": float(m.group(1)) if m else None,
            "protocol": "llama.cpp", "tokens": int(nchunks.group(1)) * (a.ctx - 1 - a.ctx // 2) if nchunks else None,
            "ppl_eval_tokens_per_s": ppl_tps, "prompt_tokens_per_s": prompt, "decode_tokens_per_s": decode,
            "peak_rss_mb": rss, "ppl_seconds": secs, "bench_seconds": bsecs, "repack": repack})
    return rows


def our_rows(a, version, log):
    skvq = a.skvq
    base = [skvq, "--threads", str(a.threads), "--db", a.db]
    calib = a.out_dir + "/smollm2.calib.json"
    if not os.path.exists(calib):
        print("skvq: calibrating (16 samples of 512 tokens of the first 600 KB) ...", file=sys.stderr, flush=True)
        rc, *_ = run(base + ["calibrate", "--model", a.model, "--text", a.wiki, "--max-bytes", "600000", "--samples",
                             "16", "--seq-len", "512", "--group-sizes", "32,64", "--seed", "1234", "--out", calib], log)
        if rc != 0:
            die(f"skvq calibrate failed (exit {rc}); see {log}")
    with open(a.wiki, "rb") as f:  # our decode prompts: held-out WikiText after the calibration text
        f.seek(a.skip_bytes)
        held_out = f.read(int(max(a.decode_ctxs) * a.chars_per_token) + 16).decode("utf-8", errors="replace")
    prompts = [("0", "Once upon a time")] + [(str(c), held_out[: int(c * a.chars_per_token)]) for c in a.decode_ctxs]
    decode_configs = set(a.decode_configs.split(","))
    rows = []
    for config, label, *rest in OUR_CONFIGS:
        dtype = rest[0] if rest else "float32"
        print(f"skvq {config} ({dtype} weights): perplexity ...", file=sys.stderr, flush=True)
        cmd = base + ["--dtype", dtype, "ppl", "--model", a.model, "--text", a.slice, "--ctx-len", str(a.ctx), "--max-chunks",
                      str(a.chunks), "--protocol", "llama.cpp", "--quant", config, "--json"]
        if "reorder" in config:
            cmd += ["--calib", calib]
        rc, out, err, rss, secs = run_rss(cmd, log)
        if rc != 0:
            die(f"skvq ppl failed for {config} (exit {rc}); see {log}")
        res = json.loads(out)
        entry = [c for c in res["configs"] if c["config"] != "fp16" or config == "fp16"][-1]
        chunks = entry["tokens"] // (a.ctx - 1 - a.ctx // 2)
        eval_tps = chunks * a.ctx / entry["wall_seconds"] if entry["wall_seconds"] > 0 else None
        decode = {}
        for ctx_label, prompt in () if a.no_decode or config not in decode_configs else prompts:
            print(f"skvq {config}: decode at context {ctx_label} ...", file=sys.stderr, flush=True)
            g = base + ["--dtype", dtype, "generate", "--model", a.model, "--prompt", prompt, "--max-new-tokens", "64",
                        "--temperature", "0", "--stats"]
            if config != "fp16":
                g += ["--quant", config]
            if "reorder" in config:
                g += ["--calib", calib]
            grc, gout, gerr, _ = run(g, log)
            d = re.search(r"prompt (\d+) tokens, generated (\d+) tokens.*decode ([0-9.]+) tokens/s", gerr)
            if grc == 0 and d:
                decode[ctx_label] = float(d.group(3))
                decode[ctx_label + "_prompt_tokens"] = int(d.group(1))
            else:
                print(f"peers: warning: skvq generate failed for {config}; see {log}", file=sys.stderr)
        rows.append({
            "system": "skvq", "version": version, "config": config, "label": label, "dtype": dtype,
            "bits_k": entry["bits_k"], "bits_v": entry["bits_v"], "kv_bytes_per_token": entry["kv_bytes_per_token"],
            "ppl": entry["ppl"], "protocol": "llama.cpp", "tokens": entry["tokens"],
            "ppl_eval_tokens_per_s": eval_tps, "prompt_tokens_per_s": eval_tps,
            "decode_tokens_per_s": {k: v for k, v in decode.items() if not k.endswith("_prompt_tokens")},
            "decode_prompt_tokens": {k[: -len("_prompt_tokens")]: v for k, v in decode.items() if k.endswith("_prompt_tokens")},
            "peak_rss_mb": rss, "ppl_seconds": secs})
    return rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows, a, llama_f16_tps):
    depths = sorted({k for r in rows for k in r["decode_tokens_per_s"]}, key=int)
    head = ["system", "config", "bits K/V", "KV B/token", "PPL (llama.cpp protocol)", "ppl-eval tok/s",
            "vs llama.cpp f16", "pp512 tok/s"] + [f"decode tok/s @{d}" for d in depths] + ["peak RSS MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratio = (r["ppl_eval_tokens_per_s"] / llama_f16_tps) if (r["ppl_eval_tokens_per_s"] and llama_f16_tps) else None
        name = r["config"] + (f" ({r['label']})" if r.get("label") and r["label"] != r["config"] else "")
        pp = r["prompt_tokens_per_s"] if r["system"] != "skvq" else None
        cells = [r["system"], name, f"{r['bits_k']:.2f}/{r['bits_v']:.2f}", fmt(r["kv_bytes_per_token"], ".0f"),
                 fmt(r["ppl"], ".4f"), fmt(r["ppl_eval_tokens_per_s"], ".0f"), fmt(ratio, ".2f") + "x" if ratio else "-",
                 fmt(pp, ".0f")] + [fmt(r["decode_tokens_per_s"].get(d), ".1f") for d in depths] + [fmt(r["peak_rss_mb"], ".0f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def nearest(decode, ctx):
    """The decode figure at the context nearest ctx, within 25 % of it (keys are context labels)."""
    keys = [k for k in decode if k.isdigit() and abs(int(k) - ctx) <= 0.25 * ctx]
    return decode[min(keys, key=lambda k: abs(int(k) - ctx))] if keys else None


def targets(rows, a):
    """The speed targets of issue 11 as ratios measured in this run (None when a figure is missing)."""
    def row(system, config, dtype="float32"):
        found = [r for r in rows if r["system"] == system and r["config"] == config and r.get("protocol") == "llama.cpp"
                 and r.get("dtype", "float32") == dtype]
        return found[0] if found else None
    f16, q4, ours, skvq2 = row("llama.cpp", "f16"), row("llama.cpp", "q4_0"), row("skvq", "fp16"), \
        row("skvq", "k2-v2-g32-reorder-pre_rope-clip-sink5-fp8")
    ctx = max(a.decode_ctxs) if a.decode_ctxs else 0
    out = []
    def ratio(name, mine, theirs, goal):
        r = mine / theirs if mine and theirs else None
        out.append(f"- {name}: {fmt(r, '.2f')}x (target >= {goal}x; {fmt(mine, '.1f')} vs {fmt(theirs, '.1f')} tokens/s)")
    ratio("perplexity evaluation, our fp16 vs llama-perplexity f16", ours and ours["ppl_eval_tokens_per_s"],
          f16 and f16["ppl_eval_tokens_per_s"], 1.5)
    bf = row("skvq", "fp16", "bfloat16")
    ratio("perplexity evaluation, our fp16 with --dtype bfloat16 vs llama-perplexity f16",
          bf and bf["ppl_eval_tokens_per_s"], f16 and f16["ppl_eval_tokens_per_s"], 1.5)
    mine = skvq2 and nearest(skvq2["decode_tokens_per_s"], ctx)
    ratio(f"decode at ~{ctx}, SKVQ 2-bit packed vs llama.cpp f16", mine, f16 and nearest(f16["decode_tokens_per_s"], ctx), 1.5)
    ratio(f"decode at ~{ctx}, SKVQ 2-bit packed vs llama.cpp q4_0", mine, q4 and nearest(q4["decode_tokens_per_s"], ctx), 1.0)
    skvq2_bf = row("skvq", "k2-v2-g32-reorder-pre_rope-clip-sink5-fp8", "bfloat16")
    mine_bf = skvq2_bf and nearest(skvq2_bf["decode_tokens_per_s"], ctx)
    ratio(f"decode at ~{ctx}, SKVQ 2-bit packed, --dtype bfloat16, vs llama.cpp f16", mine_bf,
          f16 and nearest(f16["decode_tokens_per_s"], ctx), 1.5)
    ratio(f"decode at ~{ctx}, SKVQ 2-bit packed, --dtype bfloat16, vs llama.cpp q4_0", mine_bf,
          q4 and nearest(q4["decode_tokens_per_s"], ctx), 1.0)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--wiki", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--skip-bytes", type=int, default=700000)
    ap.add_argument("--depths", default="0,1024,4096,8000", help="llama-bench -d")
    ap.add_argument("--reps", type=int, default=2, help="llama-bench -r")
    ap.add_argument("--types", default=",".join(LLAMA_TYPES), help="llama.cpp KV cache types (-ctk/-ctv)")
    ap.add_argument("--decode-ctxs", default="1024,4096,8000",
                    help="contexts of our long-prompt decode runs (prompt tokens, approximately; the measured count is stored)")
    ap.add_argument("--chars-per-token", type=float, default=4.0, help="WikiText characters per SmolLM2 token, about")
    ap.add_argument("--decode-configs", default="fp16,k4-v4-g32-sym,k2-v2-g32-reorder-pre_rope-clip-sink5-fp8",
                    help="our configurations whose decode speed is measured")
    ap.add_argument("--no-decode", action="store_true", help="skip our decode runs (skvq generate --stats)")
    ap.add_argument("--only", choices=["llama.cpp", "skvq"], help="run one system only")
    a = ap.parse_args()
    a.decode_ctxs = [int(c) for c in a.decode_ctxs.split(",") if c]
    a.out_dir = a.root + "/build/peers"
    a.llama_bin = a.out_dir + "/llama.cpp/bin"
    a.skvq = a.root + "/build/app/skvq"
    a.db = a.out_dir + "/runs.sqlite"
    a.slice = a.out_dir + "/wiki-slice.txt"
    log = a.out_dir + "/run.log"
    os.makedirs(a.out_dir, exist_ok=True)  # --only skvq on a fresh build: llama.cpp's build did not make it
    open(log, "w").close()
    if os.path.exists(a.db) and a.only != "llama.cpp":
        os.remove(a.db)  # every figure of our rows is measured in this run
    n = write_slice(a.wiki, a.slice, a.skip_bytes, a.chunks * a.ctx * 7 + 4096)
    text_sha = sha256_file(a.slice)
    model_sha = sha256_file(a.model)
    vfile = a.out_dir + "/llama.cpp/VERSION"
    llama_version = " / ".join(open(vfile).read().splitlines()[:2]) if os.path.exists(vfile) else "not built"
    skvq_version = subprocess.run([a.skvq, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"slice: {a.wiki} bytes {a.skip_bytes}..{a.skip_bytes + n} ({n} bytes), ctx {a.ctx}, {a.chunks} chunks, "
          f"{a.threads} threads", file=sys.stderr)
    t0 = time.time()
    ran = {a.only} if a.only else {"llama.cpp", "skvq"}
    kept = []  # the rows of the systems not run now (e.g. run_hf.py's) from an earlier run
    if os.path.exists(a.out_dir + "/peers.json"):
        kept = [r for r in json.load(open(a.out_dir + "/peers.json")) if r["system"] not in ran]
    rows = []
    if a.only != "skvq":
        rows += llama_rows(a, llama_version, log)
    if a.only != "llama.cpp":
        rows += our_rows(a, skvq_version, log)
    common = {"model": a.model, "model_sha256": model_sha, "text": a.slice, "text_sha256": text_sha,
              "ctx_len": a.ctx, "threads": a.threads}
    for r in rows:
        r.update(common)
    rows += kept
    rows.sort(key=lambda r: r["system"] != "llama.cpp")  # llama.cpp rows first
    with open(a.out_dir + "/peers.json", "w") as f:
        json.dump(rows, f, indent=1)
    f16 = [r for r in rows if r["system"] == "llama.cpp" and r["config"] == "f16"]
    llama_f16_tps = f16[0]["ppl_eval_tokens_per_s"] if f16 else None
    print(f"\nSmolLM2-135M-Instruct Q4_1 GGUF, WikiText-2 test bytes {a.skip_bytes}..{a.skip_bytes + n}, "
          f"{a.chunks} chunks of {a.ctx} (llama.cpp protocol: second half of each chunk scored), {a.threads} threads")
    print(f"llama.cpp: {llama_version}; skvq: {skvq_version}\n")
    print(table([r for r in rows if r.get("protocol") == "llama.cpp"], a, llama_f16_tps))
    other = len([r for r in rows if r.get("protocol") != "llama.cpp"])
    if other:
        print(f"\n({other} rows of other protocols kept in peers.json, e.g. run_hf.py's; not in this table)")
    ours = [r for r in rows if r["system"] == "skvq" and r["config"] == "fp16"]
    if f16 and ours and f16[0]["ppl"] and ours[0]["ppl"]:
        d = (ours[0]["ppl"] - f16[0]["ppl"]) / f16[0]["ppl"] * 100
        print(f"\nf16 cache: skvq PPL {ours[0]['ppl']:.4f} vs llama.cpp {f16[0]['ppl']:.4f}: {d:+.3f} %")
    print("\nspeed targets (same model, text and threads, this run):\n" + targets(rows, a))
    print(f"\nwrote {a.out_dir}/peers.json ({len(rows)} rows) in {time.time() - t0:.0f} s; log {log}")


if __name__ == "__main__":
    main()
