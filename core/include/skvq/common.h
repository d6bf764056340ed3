#pragma once
// Small things every part of the engine shares: progress reporting, cancellation, data paths.
#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace skvq {

/// Progress callback: `done` of `total` units (chunks, samples, cells) finished.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

/// Cancellation flag shared with a long operation; it throws Cancelled when the flag is set.
using CancelFlag = const std::atomic<bool>*;

/// Throws Cancelled when `flag` is non-null and set.
void throw_if_cancelled(CancelFlag flag);

/// The data directory: $SKVQ_DATA_DIR if set, else ../shared/data relative to the current
/// directory, else ../../shared/data (from a build folder). Returns the path even if missing.
std::string data_dir();

/// The model cache that scripts/fetch-models.sh fills: $SKVQ_MODELS_DIR if set, else
/// ~/.cache/skvq/models (outside the repository and the data directory). May not exist.
std::string models_dir();

/// `relative` under data_dir(); throws FileError "<path>: missing (set SKVQ_DATA_DIR ...)" if
/// the file or directory does not exist.
std::string data_path(const std::string& relative);

/// Reads a whole file as bytes; throws FileError if missing or unreadable.
std::string read_file(const std::string& path);
/// Reads at most `max_bytes` (0 = all) of a text file after skipping its first `skip_bytes`
/// bytes (both moved to UTF-8 character boundaries); reads only those bytes from disk. Throws
/// FileError when the file is missing, the skip leaves nothing, or the bytes read are binary or
/// UTF-16 (check_text; invalid UTF-8 is a warning).
std::string read_text(const std::string& path, int64_t max_bytes = 0, int64_t skip_bytes = 0);
/// What inspect_text finds in a text file's bytes; `offset` is the first offending byte.
struct TextCheck {
  enum Kind { Ok, InvalidUtf8, Utf16Bom, Utf16, Binary } kind = Ok;
  int64_t offset = -1;
};
/// Classifies bytes meant as UTF-8 text: a UTF-16 byte-order mark (FF FE / FE FF) -> Utf16Bom;
/// NUL bytes in at least a quarter of the bytes -> Utf16 (no mark), fewer -> Binary; else the
/// first sequence that is not UTF-8 (RFC 3629) -> InvalidUtf8 (e.g. Latin-1); else Ok.
TextCheck inspect_text(std::string_view bytes);
/// Throws FileError naming `path` for binary or UTF-16 bytes; prints one warning per path on
/// stderr for invalid UTF-8 (the bytes are still used).
void check_text(std::string_view bytes, const std::string& path);
/// JSON nesting deeper than this is refused (a 50,000-deep tokenizer.json overflowed the stack).
constexpr int kMaxJsonDepth = 512;
/// Parses JSON `text` read from `path` (the name used in errors). Throws FileError on malformed
/// JSON, on nesting deeper than `max_depth`, and on numbers that are not finite (1e999 parses to
/// infinity).
nlohmann::json parse_json_text(const std::string& text, const std::string& path, int max_depth = kMaxJsonDepth);
/// read_file + parse_json_text.
nlohmann::json parse_json_file(const std::string& path, int max_depth = kMaxJsonDepth);
/// Hex sha256 of a byte string / of a file's contents (FIPS 180-4). Throws FileError.
/// sha256_file streams the file in 1 MiB blocks (never holds it whole).
std::string sha256_hex(const std::string& bytes);
std::string sha256_file(const std::string& path);

/// Incremental sha256 (OpenSSL EVP): update() any number of times, then hex(); the digest equals
/// sha256_hex of the concatenated bytes. Throws Error if OpenSSL fails.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t bytes);
  /// Finishes the digest (lowercase hex, 64 characters); the object cannot be updated after.
  std::string hex();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

/// Sets LibTorch's intra-op thread count and returns it: n <= 0 means the hardware concurrency;
/// more than the hardware concurrency is capped to it with a warning on stderr.
int set_threads(int n);

/// Wall-clock seconds since an arbitrary epoch (steady clock).
double now_seconds();

}  // namespace skvq
