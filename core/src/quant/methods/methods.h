#pragma once
// One function per KV method file of this folder, each returning its registry entry
// (kv_method.h); registry.cpp lists them.
#include "skvq/kv_method.h"

namespace skvq::methods {

/// KIVI and rtn quantize plain groups: refuses SKVQ's reorder, smooth, clip and pre_rope,
/// naming `method`.
inline void check_plain_groups(const char* method, const QuantConfig& c, const MethodCheck& k) {
  if (c.reorder || c.smooth || k.given.count("clip") || c.pre_rope)
    throw k.fail(method, "does not combine with reorder, smooth, clip or pre_rope");
}

KVMethod sym();
KVMethod had();
KVMethod kivi();
KVMethod rtn();
KVMethod eviction();

}  // namespace skvq::methods
