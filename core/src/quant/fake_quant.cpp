// Group min-max quantizers (skvq-method.md sections 2-4): CPU reference loops and dispatch.
#include "skvq/fake_quant.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <limits>

#include "skvq/error.h"
#include "skvq/hadamard.h"
#include "skvq/sym_quant.h"

#ifdef SKVQ_HAVE_CUDA
#include "skvq_cuda/fake_quant.h"
#endif

namespace skvq {

float round_to_fp8_e4m3(float x) {
  if (std::isnan(x)) return x;
  const float a = std::fabs(x);
  float q;
  if (a >= 448.0f) {
    q = 448.0f;  // saturate (E4M3 has no infinity)
  } else if (a < 0.015625f) {  // below 2^-6: subnormal grid of 2^-9
    q = std::nearbyint(a * 512.0f) / 512.0f;
  } else {
    int e = 0;
    std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1): the leading bit is 2^(e-1)
    const float step = std::ldexp(1.0f, e - 1 - 3);  // 3 mantissa bits
    q = std::nearbyint(a / step) * step;
    q = std::min(q, 448.0f);
  }
  return std::copysign(q, x);
}

float round_to_fp16(float x) { return static_cast<float>(c10::Half(x)); }

void quantize_group(const float* x, int64_t n, const GroupQuantParams& p, uint8_t* codes,
                    float* scale, float* zero) {
  if (p.sym) return quantize_group_sym(x, n, p.qmax, p.clip_ratio, codes, scale, zero);
  float mn = std::numeric_limits<float>::infinity(), mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  const float lo = p.clip_ratio * mn, hi = p.clip_ratio * mx;
  float s = std::max((hi - lo) / static_cast<float>(p.qmax), 1e-5f);
  float z = lo;
  if (p.fp8) {
    s = round_to_fp8_e4m3(s);
    z = round_to_fp8_e4m3(z);
  } else {
    s = round_to_fp16(s);
    z = round_to_fp16(z);
  }
  *scale = s;
  *zero = z;
  const float qmax = static_cast<float>(p.qmax);
  for (int64_t i = 0; i < n; ++i) {
    float q = 0.0f;
    if (s > 0.0f) q = std::min(std::max(std::nearbyint((x[i] - z) / s), 0.0f), qmax);
    codes[i] = static_cast<uint8_t>(q);
  }
}

GroupLayout GroupLayout::contiguous(int64_t channels, int64_t group_size) {
  if (group_size <= 0 || channels % group_size != 0)
    throw ConfigError("group size " + std::to_string(group_size) + " does not divide " +
                      std::to_string(channels) + " channels");
  GroupLayout g;
  g.perm.resize(channels);
  for (int64_t c = 0; c < channels; ++c) g.perm[c] = c;
  for (int64_t o = 0; o <= channels; o += group_size) g.offsets.push_back(o);
  return g;
}

void GroupLayout::validate() const {
  const int64_t C = channels();
  std::vector<char> seen(C, 0);
  for (int64_t j = 0; j < C; ++j) {
    if (perm[j] < 0 || perm[j] >= C || seen[perm[j]]) throw ConfigError("group layout: perm is not a permutation of 0.." + std::to_string(C - 1));
    seen[perm[j]] = 1;
  }
  if (offsets.size() < 2 || offsets.front() != 0 || offsets.back() != C)
    throw ConfigError("group layout: offsets must run from 0 to " + std::to_string(C));
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] <= offsets[i - 1]) throw ConfigError("group layout: empty or decreasing group");
  if (!smooth.empty() && static_cast<int64_t>(smooth.size()) != C)
    throw ConfigError("group layout: smooth has " + std::to_string(smooth.size()) + " scales for " + std::to_string(C) + " channels");
}

void fake_quant_rows_cpu(float* x, int64_t rows, int64_t channels, const GroupLayout& layout,
                         const GroupQuantParams& p) {
  if (layout.channels() != channels)
    throw ConfigError("group layout has " + std::to_string(layout.channels()) + " channels, data has " + std::to_string(channels));
  const bool smooth = !layout.smooth.empty();
  const int64_t had = p.hadamard_dim;
  if (had > 0 && (!is_power_of_two(had) || channels % had != 0))
    throw ConfigError("Hadamard rotation: head_dim " + std::to_string(had) + " must be a power of two dividing " + std::to_string(channels) + " channels");
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> buf(channels);
    std::vector<uint8_t> codes(channels);
    for (int64_t r = begin; r < end; ++r) {
      float* row = x + r * channels;
      if (had > 0) fwht_blocks(row, channels, had);  // H x per head
      for (int64_t j = 0; j < channels; ++j) {
        const int64_t c = layout.perm[j];
        buf[j] = smooth ? row[c] * layout.smooth[c] : row[c];
      }
      for (int64_t g = 0; g + 1 < static_cast<int64_t>(layout.offsets.size()); ++g) {
        const int64_t o = layout.offsets[g], n = layout.offsets[g + 1] - o;
        float s = 0, z = 0;
        quantize_group(buf.data() + o, n, p, codes.data() + o, &s, &z);
        for (int64_t i = 0; i < n; ++i) buf[o + i] = static_cast<float>(codes[o + i]) * s + z;
      }
      for (int64_t j = 0; j < channels; ++j) {
        const int64_t c = layout.perm[j];
        row[c] = smooth ? buf[j] / layout.smooth[c] : buf[j];
      }
      if (had > 0) fwht_blocks(row, channels, had);  // H Q(H x): H is its own inverse
    }
  });
}

at::Tensor fake_quant_tokens(const at::Tensor& x, const GroupLayout& layout, const GroupQuantParams& p) {
  const int64_t C = x.size(-1);
  if (C != layout.channels())
    throw ConfigError("fake_quant_tokens: tensor has " + std::to_string(C) + " channels, layout " + std::to_string(layout.channels()));
  auto out = x.to(at::kFloat).contiguous().clone();
  const int64_t rows = out.numel() / std::max<int64_t>(C, 1);
  if (rows == 0) return out.to(x.scalar_type());
  if (out.is_cuda() && (p.sym || p.hadamard_dim > 0)) {  // no CUDA kernel: CPU reference
    auto host = out.cpu();
    fake_quant_rows_cpu(host.data_ptr<float>(), rows, C, layout, p);
    out.copy_(host);
  } else if (out.is_cuda()) {
#ifdef SKVQ_HAVE_CUDA
    auto dev = at::TensorOptions().dtype(at::kLong).device(out.device());
    auto perm = at::tensor(layout.perm, at::kLong).to(dev);
    auto offsets = at::tensor(layout.offsets, at::kLong).to(dev);
    at::Tensor smooth;
    if (!layout.smooth.empty()) smooth = at::tensor(layout.smooth, at::kFloat).to(out.device());
    fake_quant_rows_cuda(out.data_ptr<float>(), rows, C, perm.data_ptr<int64_t>(),
                         offsets.data_ptr<int64_t>(), layout.num_groups(),
                         smooth.defined() ? smooth.data_ptr<float>() : nullptr, p.qmax, p.clip_ratio,
                         p.fp8, nullptr);
#else
    throw Error("fake_quant_tokens: tensor on a GPU but this build has no CUDA kernels");
#endif
  } else {
    fake_quant_rows_cpu(out.data_ptr<float>(), rows, C, layout, p);
  }
  return out.to(x.scalar_type());
}

at::Tensor fake_quant_channels_kivi(const at::Tensor& x, int64_t n_tokens, int64_t token_group, int32_t qmax) {
  if (x.dim() != 3) throw Error("fake_quant_channels_kivi: x must be [B, T, C]");
  if (token_group <= 0 || n_tokens % token_group != 0 || n_tokens > x.size(1))
    throw ConfigError("KIVI keys: " + std::to_string(n_tokens) + " tokens are not whole groups of " + std::to_string(token_group));
  auto out = x.to(at::kFloat).contiguous().clone();
  auto cpu = out.device().is_cpu() ? out : out.cpu();
  const int64_t B = cpu.size(0), T = cpu.size(1), C = cpu.size(2);
  float* data = cpu.data_ptr<float>();
  GroupQuantParams p{qmax, 1.0f, false};
  const int64_t groups = n_tokens / token_group;
  at::parallel_for(0, B * groups, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> col(token_group);
    std::vector<uint8_t> codes(token_group);
    for (int64_t bg = begin; bg < end; ++bg) {
      const int64_t b = bg / groups, t0 = (bg % groups) * token_group;
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t i = 0; i < token_group; ++i) col[i] = data[(b * T + t0 + i) * C + c];
        float s = 0, z = 0;
        quantize_group(col.data(), token_group, p, codes.data(), &s, &z);
        for (int64_t i = 0; i < token_group; ++i) data[(b * T + t0 + i) * C + c] = static_cast<float>(codes[i]) * s + z;
      }
    }
  });
  return (out.device().is_cpu() ? cpu : cpu.to(out.device())).to(x.scalar_type());
}

}  // namespace skvq
