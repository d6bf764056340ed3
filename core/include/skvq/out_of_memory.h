#pragma once
// Telling a failed memory allocation from a bug (the command line's exit statuses, README).
#include <exception>

namespace skvq {

/// Whether `e` reports a failed memory allocation rather than a bug: std::bad_alloc,
/// c10::OutOfMemoryError (CUDA), or the "can't allocate memory" c10::Error of LibTorch's CPU
/// allocator. The command line reports these as an error (exit 1), not an internal error (3).
bool is_out_of_memory(const std::exception& e);

}  // namespace skvq
