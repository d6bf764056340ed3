// LibTorch host wrappers of the CUDA packed kernels (cuda/packed.cu). Without CUDA in the build
// they throw Error; packed_cuda_available says why.
#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "skvq/error.h"
#include "skvq/packed_cache.h"

#ifdef SKVQ_HAVE_CUDA
#include "skvq_cuda/fake_quant.h"
#include "skvq_cuda/packed.h"
#endif

namespace skvq {

bool packed_cuda_available(std::string* reason) {
#ifdef SKVQ_HAVE_CUDA
  const char* why = nullptr;
  const int n = cuda::device_count(&why);
  if (n > 0) return true;
  if (reason) *reason = why ? why : "no CUDA device";
  return false;
#else
  if (reason) *reason = "this build has no CUDA kernels (configured without nvcc or with SKVQ_WITH_CUDA=OFF)";
  return false;
#endif
}

#ifdef SKVQ_HAVE_CUDA
namespace {

// Device copies of a format's index arrays; keeps the tensors alive while the view is used.
struct DevFormat {
  std::vector<at::Tensor> keep;
  cuda::PackedFormatDev view;
};

DevFormat to_device(const PackedFormat& f, at::Device dev) {
  if (f.params.sym) throw Error("CUDA packed kernels: the sym (q4_0/q8_0) format has no CUDA kernel yet; use the CPU");
  if (f.params.hadamard_dim > 0)
    throw Error("CUDA packed kernels: the had (Walsh-Hadamard rotated) format has no CUDA kernel yet; use the CPU");
  DevFormat d;
  const auto& L = f.layout;
  const int64_t C = L.channels();
  std::vector<int64_t> inv(C);
  std::vector<int32_t> group_of(C);
  for (int64_t j = 0; j < C; ++j) inv[L.perm[j]] = j;
  for (int64_t g = 0; g < L.num_groups(); ++g)
    for (int64_t j = L.offsets[g]; j < L.offsets[g + 1]; ++j) group_of[j] = static_cast<int32_t>(g);
  auto lopt = at::TensorOptions().dtype(at::kLong);
  auto perm = at::tensor(L.perm, lopt).to(dev);
  auto invp = at::tensor(inv, lopt).to(dev);
  auto offs = at::tensor(L.offsets, lopt).to(dev);
  auto gof = at::tensor(group_of, at::TensorOptions().dtype(at::kInt)).to(dev);
  d.keep = {perm, invp, offs, gof};
  d.view.channels = C;
  d.view.n_groups = L.num_groups();
  d.view.perm = perm.data_ptr<int64_t>();
  d.view.inv_perm = invp.data_ptr<int64_t>();
  d.view.offsets = offs.data_ptr<int64_t>();
  d.view.group_of = gof.data_ptr<int32_t>();
  if (!L.smooth.empty()) {
    auto sm = at::tensor(L.smooth, at::TensorOptions().dtype(at::kFloat)).to(dev);
    d.keep.push_back(sm);
    d.view.smooth = sm.data_ptr<float>();
  }
  d.view.qmax = f.params.qmax;
  d.view.clip = f.params.clip_ratio;
  d.view.fp8 = f.params.fp8;
  d.view.code_bytes = f.code_bytes();
  d.view.token_bytes = f.token_bytes();
  return d;
}

void require_cuda(const at::Tensor& t, const char* what) {
  if (!t.is_cuda()) throw Error(std::string(what) + ": tensor must be on a CUDA device");
}

}  // namespace

at::Tensor pack_tokens_cuda(const at::Tensor& x_in, const PackedFormat& f) {
  require_cuda(x_in, "pack_tokens_cuda");
  auto x = x_in.to(at::kFloat).contiguous();
  const int64_t C = f.channels();
  if (x.size(-1) != C) throw Error("pack_tokens_cuda: last dimension must be " + std::to_string(C));
  const int64_t rows = x.numel() / C;
  auto out = at::empty({rows, f.token_bytes()}, x.options().dtype(at::kByte));
  auto d = to_device(f, x.device());
  cuda::quantize_pack_cuda(x.data_ptr<float>(), rows, d.view, out.data_ptr<uint8_t>(), nullptr);
  return out;
}

at::Tensor unpack_tokens_cuda(const at::Tensor& packed_in, const PackedFormat& f) {
  require_cuda(packed_in, "unpack_tokens_cuda");
  auto packed = packed_in.contiguous();
  if (packed.scalar_type() != at::kByte || packed.size(-1) != f.token_bytes())
    throw Error("unpack_tokens_cuda: expected uint8 rows of " + std::to_string(f.token_bytes()) + " bytes");
  const int64_t rows = packed.numel() / f.token_bytes();
  auto out = at::empty({rows, f.channels()}, packed.options().dtype(at::kFloat));
  auto d = to_device(f, packed.device());
  cuda::dequant_packed_cuda(packed.data_ptr<uint8_t>(), rows, d.view, out.data_ptr<float>(), nullptr);
  return out;
}

at::Tensor decode_attention_packed_cuda(const at::Tensor& q_in, const at::Tensor& k_packed,
                                        const at::Tensor& v_packed, const at::Tensor& dense_k,
                                        const at::Tensor& dense_v, const PackedFormat& kf,
                                        const PackedFormat& vf, int64_t kv_heads, int64_t split_tokens) {
  require_cuda(q_in, "decode_attention_packed_cuda");
  auto q = q_in.to(at::kFloat).contiguous();
  auto kp = k_packed.contiguous(), vp = v_packed.contiguous();
  if (q.dim() != 3 || kp.dim() != 3 || vp.dim() != 3)
    throw Error("decode_attention_packed_cuda: q must be [B, H, D], packed K/V [B, T, bytes]");
  cuda::DecodeAttentionDev a;
  a.batch = q.size(0);
  a.heads = q.size(1);
  a.head_dim = q.size(2);
  a.kv_heads = kv_heads;
  a.q = q.data_ptr<float>();
  a.k_packed = kp.data_ptr<uint8_t>();
  a.v_packed = vp.data_ptr<uint8_t>();
  a.t_packed = kp.size(1);
  at::Tensor dk, dv;
  if (dense_k.defined() && dense_k.numel() > 0) {
    dk = dense_k.to(at::kFloat).contiguous();
    dv = dense_v.to(at::kFloat).contiguous();
    a.k_dense = dk.data_ptr<float>();
    a.v_dense = dv.data_ptr<float>();
    a.t_dense = dk.size(1);
  }
  a.softmax_scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  a.split_tokens = split_tokens;
  auto out = at::empty({a.batch, a.heads, a.head_dim}, q.options());
  auto ws = at::empty({cuda::decode_attention_workspace_floats(a)}, q.options());
  a.out = out.data_ptr<float>();
  a.workspace = ws.data_ptr<float>();
  auto kd = to_device(kf, q.device());
  auto vd = to_device(vf, q.device());
  try {
    cuda::decode_attention_packed_cuda(a, kd.view, vd.view, nullptr);
  } catch (const std::runtime_error& e) {
    throw Error(e.what());
  }
  return out;
}

#else  // no CUDA in this build

at::Tensor pack_tokens_cuda(const at::Tensor&, const PackedFormat&) {
  throw Error("pack_tokens_cuda: this build has no CUDA kernels");
}
at::Tensor unpack_tokens_cuda(const at::Tensor&, const PackedFormat&) {
  throw Error("unpack_tokens_cuda: this build has no CUDA kernels");
}
at::Tensor decode_attention_packed_cuda(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                        const at::Tensor&, const at::Tensor&, const PackedFormat&,
                                        const PackedFormat&, int64_t, int64_t) {
  throw Error("decode_attention_packed_cuda: this build has no CUDA kernels");
}

#endif

}  // namespace skvq
