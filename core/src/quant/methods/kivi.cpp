// "KIVI": keys quantized per channel over groups of g tokens, values per token, the most
// recent w tokens (the residual) kept in full precision (KIVI, arXiv 2402.02750).
#include "quant/methods/methods.h"

namespace skvq::methods {

KVMethod kivi() {
  KVMethod m;
  m.token = "KIVI";
  m.aliases = {"kivi"};
  m.select = [](QuantConfig& c) { c.method = QuantMethod::KIVI; };
  m.selected = [](const QuantConfig& c) { return c.method == QuantMethod::KIVI; };
  m.check = [](const QuantConfig& c, const MethodCheck& k) {
    // Checked here only: KIVI's check runs before rtn's (registry order) whatever the string's.
    if (k.given.count("rtn")) throw k.fail("", "KIVI and rtn are different methods; give one");
    check_plain_groups("KIVI", c, k);
    if (k.given.count("sink")) throw k.fail("KIVI", "has no sink tokens (its residual is the window)");
  };
  return m;
}

}  // namespace skvq::methods
