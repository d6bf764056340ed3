// engine_versions (engine.h): the library versions Help > About reports.
#include <sqlite3.h>
#include <torch/version.h>

#include "engine.h"
#include "skvq/packed_cache.h"

namespace skvq::studio {

nlohmann::json engine_versions() {
  std::string reason;
  const bool cuda = packed_cuda_available(&reason);
  return {{"libtorch", TORCH_VERSION},
          {"cuda", cuda ? std::string("available") : "not available: " + reason},
          {"sqlite", sqlite3_libversion()}};
}

}  // namespace skvq::studio
