// "k0-v0": StreamingLLM eviction (eviction.h): the middle between the sinks and the window is
// dropped, not quantized. Selected by zero bits, it has no token of its own.
#include "quant/methods/methods.h"

namespace skvq::methods {

KVMethod eviction() {
  KVMethod m;
  m.selected = [](const QuantConfig& c) { return c.method != QuantMethod::None && (c.k_bits == 0 || c.v_bits == 0); };
  // Nothing is stored for the middle, so no option that shapes how it would be quantized
  // applies, and a query must see at least itself.
  m.check = [](const QuantConfig& c, const MethodCheck& k) {
    if (c.k_bits != 0 || c.v_bits != 0)
      throw k.fail("k0", "eviction drops a token's key and value together: give k0-v0 (a key without its value, "
                         "or the reverse, cannot be attended)");
    if (c.reorder || c.smooth || c.pre_rope || k.given.count("clip") || c.fp8 || c.sym || c.had ||
        c.method != QuantMethod::SKVQ)
      throw k.fail("k0", "eviction stores nothing for the middle; reorder, smooth, pre_rope, clip, fp8, sym, had, "
                         "KIVI and rtn do not apply");
    if (c.window <= 0) throw k.fail("k0", "eviction needs a window w>0 (StreamingLLM keeps the most recent tokens)");
  };
  // The fake-quant cache stores just the float sinks and window: nothing to pack.
  m.no_packed_codec = [](const QuantConfig&) { return "eviction (k0-v0) keeps no packed middle"; };
  return m;
}

}  // namespace skvq::methods
