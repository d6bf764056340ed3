// skvq bench: decode attention time per token vs context length at Llama-2-7B shapes (one layer,
// 32 heads x 128), float32 and float16 storage vs the 2-bit packed cache (g128, fp8), and
// quantize-and-pack throughput vs a plain memory copy. With a CUDA device (and a CUDA build) it
// also times the fused packed CUDA kernel against LibTorch float16 attention on the GPU.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "progress.h"
#include "skvq/common.h"
#include "skvq/packed_cache.h"

namespace skvq::cli {
namespace {

struct BenchOptions {
  std::vector<int64_t> ctx{1024, 4096, 16384, 32768};
  bool json = false;
  int reps = 5;
  int64_t chunk = 4096;
};

template <typename F>
double median_seconds(int reps, F&& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now_seconds();
    f();
    t.push_back(now_seconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Mean seconds of one call of f on the GPU: `reps` launches back to back, then a copy of the
// last result to the host (which waits for the stream). One warm-up call first.
template <typename F>
double gpu_seconds(int reps, F&& f) {
  f().cpu();
  const double t0 = now_seconds();
  at::Tensor last;
  for (int i = 0; i < reps; ++i) last = f();
  last.cpu();
  return (now_seconds() - t0) / reps;
}

ModelConfig llama7b_layer() {
  ModelConfig m;
  m.hidden_size = 4096;
  m.intermediate_size = 11008;
  m.num_hidden_layers = 1;
  m.num_attention_heads = 32;
  m.num_key_value_heads = 32;
  m.head_dim = 128;
  m.vocab_size = 32000;
  m.max_position_embeddings = 4096;
  return m;
}

QuantConfig packed_config() {
  QuantConfig c;
  c.method = QuantMethod::SKVQ;
  c.k_bits = c.v_bits = 2;
  c.group_size = 128;
  c.fp8 = true;
  c.clip_ratio = 1.0;
  return c;  // no sink/window: every token is packed (the path being measured)
}

void run_bench(const BenchOptions& o) {
  const auto m = llama7b_layer();
  const auto cfg = packed_config();
  const int64_t C = m.kv_channels(), H = m.num_attention_heads, D = m.head_dim;
  const KVLayouts lay{{GroupLayout::contiguous(C, cfg.group_size)}, {GroupLayout::contiguous(C, cfg.group_size)}};
  nlohmann::json out;
  out["shape"] = {{"heads", H}, {"head_dim", D}, {"kv_heads", m.num_key_value_heads}, {"layers", 1}};
  out["config"] = cfg.to_string();
  out["threads"] = at::get_num_threads();
  std::string why;
  out["cuda"] = packed_cuda_available(&why);
  const bool cuda = out["cuda"].get<bool>();
  if (!cuda) out["cuda_reason"] = why;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  auto q = at::randn({1, H, D}, gen);
  // Progress on stderr: the pack measurement, then float32, float16 and packed per context.
  const int64_t steps = 1 + 3 * static_cast<int64_t>(o.ctx.size());
  int64_t step = 0;
  auto advance = [&] { draw_progress("bench", ++step, steps, "timings"); };
  draw_progress("bench", 0, steps, "timings");

  // Quantize-and-pack throughput vs a plain copy of the same float32 bytes.
  {
    const int64_t n = o.chunk;
    auto k = at::randn({1, n, C}, gen), v = at::randn({1, n, C}, gen);
    const double bytes = 2.0 * n * C * 4;
    const double t_pack = median_seconds(o.reps, [&] {
      PackedKVCache c(m, cfg, lay, 1, false);
      c.append_tokens(0, k, k, v);
    });
    auto kd = at::empty_like(k), vd = at::empty_like(v);
    const double t_copy = median_seconds(o.reps, [&] {
      kd.copy_(k);
      vd.copy_(v);
    });
    advance();
    out["pack"] = {{"tokens", n}, {"input_bytes", bytes}, {"pack_seconds", t_pack},
                   {"pack_gb_per_s", bytes / t_pack / 1e9}, {"copy_seconds", t_copy},
                   {"copy_gb_per_s", bytes / t_copy / 1e9}};
    clear_progress();
    if (!o.json)
      std::printf("quantize+pack (K and V, %lld tokens, %.0f MB float32): %.2f GB/s; memory copy %.2f GB/s\n\n",
                  static_cast<long long>(n), bytes / 1e6, bytes / t_pack / 1e9, bytes / t_copy / 1e9);
  }

  if (!o.json)
    std::printf("%8s %14s %14s %14s %12s %12s %10s\n", "ctx", "float32 ms", "float16 ms", "packed2 ms",
                "f32 MB read", "pk MB read", "speedup");
  for (const int64_t N : o.ctx) {
    PackedKVCache cache(m, cfg, lay, 1, false);
    auto kf = at::empty({N, C}), vf = at::empty({N, C});
    for (int64_t t0 = 0; t0 < N; t0 += o.chunk) {
      const int64_t n = std::min(o.chunk, N - t0);
      auto k = at::randn({1, n, C}, gen), v = at::randn({1, n, C}, gen);
      cache.append_tokens(0, k, k, v);
      kf.narrow(0, t0, n).copy_(k[0]);
      vf.narrow(0, t0, n).copy_(v[0]);
    }
    auto q2 = q[0].contiguous();
    const double t32 = median_seconds(o.reps, [&] { dense_decode_attention(q2, kf, vf, m.num_key_value_heads); });
    auto kh = kf.to(at::kHalf), vh = vf.to(at::kHalf);
    kf = at::Tensor();
    vf = at::Tensor();
    advance();
    const double t16 = median_seconds(o.reps, [&] { dense_decode_attention(q2, kh, vh, m.num_key_value_heads); });
    kh = at::Tensor();
    vh = at::Tensor();
    advance();
    const double tpk = median_seconds(o.reps, [&] { cache.decode_attention(0, q); });
    advance();
    const double f32_bytes = 2.0 * N * C * 4, pk_bytes = static_cast<double>(cache.packed_bytes());
    // GPU: fused packed kernel (same bytes, packed on the device) vs LibTorch float16 attention
    // over a [H, N, D] cache (matmul, softmax, matmul).
    double tcu_pk = 0, tcu_16 = 0;
    if (cuda) {
      const auto dev = at::Device(at::kCUDA, 0);
      auto gk = at::randn({N, C}, gen).to(dev), gv = at::randn({N, C}, gen).to(dev);
      auto kp = pack_tokens_cuda(gk, cache.key_format(0)).unsqueeze(0);
      auto vp = pack_tokens_cuda(gv, cache.value_format(0)).unsqueeze(0);
      auto qg = q.to(dev);
      tcu_pk = gpu_seconds(o.reps * 20, [&] {
        return decode_attention_packed_cuda(qg, kp, vp, at::Tensor(), at::Tensor(), cache.key_format(0),
                                            cache.value_format(0), m.num_key_value_heads);
      });
      auto k16 = gk.view({N, H, D}).permute({1, 0, 2}).contiguous().to(at::kHalf);  // [H, N, D]
      auto v16 = gv.view({N, H, D}).permute({1, 0, 2}).contiguous().to(at::kHalf);
      gk = at::Tensor();
      gv = at::Tensor();
      auto q16 = qg[0].unsqueeze(1).to(at::kHalf);  // [H, 1, D]
      const double scale = 1.0 / std::sqrt(static_cast<double>(D));
      tcu_16 = gpu_seconds(o.reps * 20, [&] {
        auto p = at::softmax(at::matmul(q16, k16.transpose(1, 2)).mul_(scale), -1);
        return at::matmul(p, v16);
      });
    }
    nlohmann::json row = {{"ctx", N},
                          {"float32_ms", t32 * 1e3},
                          {"float16_ms", t16 * 1e3},
                          {"packed_ms", tpk * 1e3},
                          {"float32_bytes", f32_bytes},
                          {"packed_bytes", pk_bytes},
                          {"speedup_vs_float32", t32 / tpk},
                          {"speedup_vs_float16", t16 / tpk}};
    if (cuda)
      row["cuda"] = {{"packed_ms", tcu_pk * 1e3},
                     {"float16_ms", tcu_16 * 1e3},
                     {"speedup_vs_float16", tcu_16 / tcu_pk}};
    out["decode"].push_back(row);
    clear_progress();
    if (!o.json) {
      std::printf("%8lld %14.3f %14.3f %14.3f %12.1f %12.1f %9.2fx\n", static_cast<long long>(N), t32 * 1e3,
                  t16 * 1e3, tpk * 1e3, f32_bytes / 1e6, pk_bytes / 1e6, t32 / tpk);
      if (cuda)
        std::printf("%8s CUDA: fused packed %.3f ms, LibTorch float16 %.3f ms (%.2fx)\n", "", tcu_pk * 1e3,
                    tcu_16 * 1e3, tcu_16 / tcu_pk);
    }
    std::fflush(stdout);
  }
  end_progress();
  if (o.json) std::printf("%s\n", out.dump(2).c_str());
  else if (!cuda)
    std::printf("\nCUDA: not timed (%s)\n", why.c_str());
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "time decode attention: float32 / float16 vs 2-bit packed KV cache");
  cmd->add_option("--ctx", o->ctx, "context lengths in tokens (up to 131072)")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{131072}));
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->add_option("--reps", o->reps, "timed repetitions per figure (median reported)")->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace skvq::cli
