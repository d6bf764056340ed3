// Fast Walsh-Hadamard transform (hadamard.h), used by the "had" option of the fake-quant path.
#include "skvq/hadamard.h"

#include <cmath>
#include <string>

#include "skvq/error.h"

namespace skvq {

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

void fwht(float* x, int64_t n) {
  if (!is_power_of_two(n))
    throw ConfigError("Hadamard rotation: size " + std::to_string(n) + " is not a power of two");
  for (int64_t h = 1; h < n; h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  const float norm = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  for (int64_t i = 0; i < n; ++i) x[i] *= norm;
}

void fwht_blocks(float* x, int64_t channels, int64_t block) {
  if (!is_power_of_two(block) || channels % block != 0)
    throw ConfigError("Hadamard rotation: block " + std::to_string(block) +
                      " must be a power of two dividing " + std::to_string(channels) + " channels");
  for (int64_t o = 0; o < channels; o += block) fwht(x + o, block);
}

}  // namespace skvq
