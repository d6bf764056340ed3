// StreamingLLM eviction: keep sinks and window, drop the middle (eviction.h).
#include "skvq/eviction.h"

#include <ATen/ATen.h>

#include "skvq/error.h"

namespace skvq {

int64_t evict_middle(at::Tensor& k, at::Tensor& v, int64_t used, int64_t sink, int64_t window) {
  if (!k.sizes().equals(v.sizes())) throw Error("evict_middle: key and value buffers differ in shape");
  const int64_t dropped = used - sink - window;
  if (dropped <= 0) return 0;
  for (at::Tensor* buf : {&k, &v}) {
    // The source and destination rows may overlap when dropped < window: copy out first.
    auto recent = buf->narrow(1, used - window, window).clone();
    buf->narrow(1, sink, window).copy_(recent);
  }
  return dropped;
}

}  // namespace skvq
