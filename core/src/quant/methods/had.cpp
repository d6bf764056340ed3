// "had": a Walsh-Hadamard rotation of each KV head before group quantization (hadamard.h),
// the rotation llama.cpp applies to quantized caches and QuaRot / RotateKV use.
#include "quant/methods/methods.h"

#include "skvq/hadamard.h"
#include "skvq/model_config.h"

namespace skvq::methods {

KVMethod had() {
  KVMethod m;
  m.token = "had";
  m.select = [](QuantConfig& c) { c.had = true; };
  m.selected = [](const QuantConfig& c) { return c.had; };
  // The calibration's channel permutation and smooth scales describe the unrotated channels,
  // and KIVI groups keys per channel over tokens.
  m.check = [](const QuantConfig& c, const MethodCheck& k) {
    if (c.reorder || c.smooth)
      throw k.fail("had", "does not combine with reorder or smooth (their calibration is for unrotated channels)");
    if (c.method == QuantMethod::KIVI) throw k.fail("had", "does not combine with KIVI (per-channel key groups)");
  };
  m.codec_params = [](const QuantConfig&, const ModelConfig& model, GroupQuantParams& p) {
    p.hadamard_dim = model.head_dim;  // H Q(H x) per KV head
  };
  m.no_packed_codec = [](const QuantConfig& c) {
    return c.pre_rope ? "had with pre_rope (RoPE between the rotation and attention) is not supported" : "";
  };
  m.check_model = [](const QuantConfig& c, const ModelConfig& model) {
    if (!is_power_of_two(model.head_dim))
      throw ConfigError("configuration '" + c.to_string() + "': had: head_dim " + std::to_string(model.head_dim) +
                        " is not a power of two (the Walsh-Hadamard rotation needs one)");
  };
  return m;
}

}  // namespace skvq::methods
