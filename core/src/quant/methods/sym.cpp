// "sym": symmetric groups with one float16 scale and no zero-point, llama.cpp's q4_0 / q8_0
// block rules (sym_quant.h); with g32, k4-v4-g32-sym is the q4_0 cache type (4.5 bits).
#include "quant/methods/methods.h"

namespace skvq::methods {

KVMethod sym() {
  KVMethod m;
  m.token = "sym";
  m.select = [](QuantConfig& c) { c.sym = true; };
  m.selected = [](const QuantConfig& c) { return c.sym; };
  // Its codecs exist for 4 and 8 bits, its scale is float16 by definition, and KIVI's
  // per-channel key groups are another method.
  m.check = [](const QuantConfig& c, const MethodCheck& k) {
    for (double b : {c.k_bits, c.v_bits})
      if (b != 4 && b != 8 && b != 16)
        throw k.fail("sym", "bits must be 4 (q4_0), 8 (q8_0) or 16 (unquantized), got " + format_config_number(b));
    if (c.fp8) throw k.fail("sym", "stores a float16 scale (llama.cpp q4_0/q8_0); does not combine with fp8");
    if (c.method == QuantMethod::KIVI) throw k.fail("sym", "does not combine with KIVI (per-channel key groups)");
  };
  m.codec_params = [](const QuantConfig&, const ModelConfig&, GroupQuantParams& p) { p.sym = true; };
  m.param_bits = [](const QuantConfig&) { return 16.0; };  // one float16 scale per group
  return m;
}

}  // namespace skvq::methods
