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
  m.check = [](const QuantConfig& c, const MethodCheck& k) { check_plain_groups("rtn", c, k); };
  return m;
}

}  // namespace skvq::methods
