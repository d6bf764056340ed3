// "rtn": round-to-nearest per-token groups of g consecutive channels, min-max without
// reordering or clipping, float16 scale and zero-point (the paper's RTN baseline).
#include "quant/methods/methods.h"

namespace skvq::methods {

KVMethod rtn() {
  KVMethod m;
  m.token = "rtn";
  m.aliases = {"RTN"};
  m.select = [](QuantConfig& c) { c.method = QuantMethod::RTN; };
  m.selected = [](const QuantConfig& c) { return c.method == QuantMethod::RTN; };
  m.check = [](const QuantConfig& c, const MethodCheck& k) {
    if (k.given.count("KIVI")) throw k.fail("", "KIVI and rtn are different methods; give one");
    if (c.reorder || c.smooth || k.given.count("clip") || c.pre_rope)
      throw k.fail("rtn", "does not combine with reorder, smooth, clip or pre_rope");
  };
  return m;
}

}  // namespace skvq::methods
