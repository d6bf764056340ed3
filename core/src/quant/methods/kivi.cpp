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
  // Keys per channel over groups of g tokens (values: per-token groups, the default).
  m.key_block_tokens = [](const QuantConfig& c) { return c.group_size; };
  m.fake_quant_keys = [](const at::Tensor& seg, const QuantConfig& c) {
    return fake_quant_channels_kivi(seg, seg.size(1), c.group_size, qmax_for_bits(c.k_bits));
  };
  m.no_packed_codec = [](const QuantConfig&) { return "KIVI (per-channel key groups) is not supported"; };
  return m;
}

}  // namespace skvq::methods
