// Classification of exceptions that are not the engine's own (out_of_memory.h).
#include "skvq/out_of_memory.h"

#include <c10/util/Exception.h>

#include <new>

namespace skvq {

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return true;
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e)) return true;
  // LibTorch 1.13's CPU allocator reports a failed allocation as a plain c10::Error.
  if (const auto* c = dynamic_cast<const c10::Error*>(&e))
    return c->msg().find("can't allocate memory") != std::string::npos;
  return false;
}

}  // namespace skvq
