#pragma once
// One function per KV method file of this folder, each returning its registry entry
// (kv_method.h); registry.cpp lists them.
#include "skvq/kv_method.h"

namespace skvq::methods {

KVMethod sym();
KVMethod had();
KVMethod kivi();
KVMethod rtn();
KVMethod eviction();

}  // namespace skvq::methods
