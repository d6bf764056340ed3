// Q/K row order conversion between interleaved and rotate-half RoPE layouts.
#include "model/qk_layout.h"

#include <ATen/ATen.h>

#include <vector>

namespace skvq {

at::Tensor interleaved_to_rotate_half(const at::Tensor& w, int64_t heads, int64_t head_dim) {
  std::vector<int64_t> order;
  for (int64_t j = 0; j < head_dim / 2; ++j) order.push_back(2 * j);
  for (int64_t j = 0; j < head_dim / 2; ++j) order.push_back(2 * j + 1);
  auto idx = at::tensor(order, at::kLong).to(w.device());
  auto shape = w.sizes().vec();
  return w.view({heads, head_dim, -1}).index_select(1, idx).reshape(shape).contiguous();
}

}  // namespace skvq
