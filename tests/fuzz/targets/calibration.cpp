// Fuzz target: calibration file (Calibration::load), then the group layouts of every layer for
// every calibrated group size (what a reorder/smooth run builds from it).
#include "fuzz_util.h"
#include "skvq/calibration.h"
#include "skvq/quant_config.h"
#include "targets/targets.h"

void skvq::fuzz::calibration(const uint8_t* data, size_t size) {
  const std::string path = write_input("calib.json", data, size);
  expect_only_engine_errors([&] {
    const Calibration cal = Calibration::load(path);
    fuzz_check(static_cast<int64_t>(cal.layers.size()) == cal.num_layers, "layers.size() != num_layers");
    for (int64_t g : cal.group_sizes) {
      if (g > 4096) continue;
      for (const char* extra : {"-reorder", "-smooth", "-reorder-smooth-clip"}) {
        const auto qc = QuantConfig::parse("k2-v2-g" + std::to_string(g) + extra);
        for (int64_t layer = 0; layer < cal.num_layers && layer < 64; ++layer)
          for (bool keys : {true, false}) (void)cal.layout(layer, keys, qc);
      }
    }
  });
}
