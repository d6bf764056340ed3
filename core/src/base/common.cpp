// Shared helpers: cancellation, data directory, file reading, sha256, threads, clock.
#include "skvq/common.h"

#include <algorithm>
#include <ATen/Parallel.h>
#include <openssl/evp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "skvq/error.h"

namespace skvq {
namespace fs = std::filesystem;

nlohmann::json parse_json_text(const std::string& text, const std::string& path, int max_depth) {
  using json = nlohmann::json;
  // The callback sees every event with its depth: refuse deep nesting before the parser (and
  // later the recursive destructor) goes that deep, and refuse infinite numbers.
  json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth >= max_depth)
      throw FileError(path, "JSON nested deeper than " + std::to_string(max_depth) + " levels");
    if (event == json::parse_event_t::value && parsed.is_number_float() && !std::isfinite(parsed.get<double>()))
      throw FileError(path, "JSON number out of range (not a finite double, e.g. 1e999)");
    return true;
  };
  try {
    return json::parse(text, check);
  } catch (const json::parse_error& e) {
    throw FileError(path, std::string("malformed JSON: ") + e.what());
  } catch (const json::exception& e) {  // out_of_range 406: a number like 1e999 overflows a double
    throw FileError(path, std::string("JSON number out of range: ") + e.what());
  }
}

nlohmann::json parse_json_file(const std::string& path, int max_depth) {
  return parse_json_text(read_file(path), path, max_depth);
}

void throw_if_cancelled(CancelFlag flag) {
  if (flag && flag->load(std::memory_order_relaxed)) throw Cancelled();
}

std::string data_dir() {
  if (const char* env = std::getenv("SKVQ_DATA_DIR"); env && *env) return env;
  for (const char* candidate : {"../shared/data", "../../shared/data"})
    if (fs::is_directory(candidate)) return fs::absolute(candidate).lexically_normal().string();
  return "../shared/data";
}

std::string data_path(const std::string& relative) {
  fs::path p = fs::path(data_dir()) / relative;
  std::error_code ec;  // a name the OS refuses (ENAMETOOLONG) is missing, not a filesystem_error
  if (!fs::exists(p, ec))
    throw FileError(p.string(), "missing (the data directory is " + data_dir() +
                                    "; set SKVQ_DATA_DIR or --data-dir to where the data lives)");
  return p.string();
}

std::string models_dir() {
  const char* env = std::getenv("SKVQ_MODELS_DIR");
  if (env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/skvq/models";
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw FileError(path, "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, fs::exists(path, ec) ? "cannot be read" : "no such file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw FileError(path, "read error");
  return ss.str();
}

namespace {
bool utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Appends up to `n` more bytes of `in` to `s`; false at the end of the file. Reads in blocks of
// at most 1 MiB, so that a limit far beyond the file's size (--max-bytes 1e15, found by fuzzing)
// allocates what the file holds, not what was asked for.
bool read_more(std::ifstream& in, std::string& s, size_t n) {
  constexpr size_t kBlock = size_t{1} << 20;
  const size_t start = s.size();
  while (n > 0 && in) {
    const size_t want = std::min(n, kBlock);
    const size_t old = s.size();
    s.resize(old + want);
    in.read(s.data() + old, static_cast<std::streamsize>(want));
    const size_t got = static_cast<size_t>(in.gcount());
    s.resize(old + got);
    if (got < want) break;
    n -= got;
  }
  return s.size() > start;
}
}  // namespace

std::string read_text(const std::string& path, int64_t max_bytes, int64_t skip_bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw FileError(path, "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, fs::exists(path, ec) ? "cannot be read" : "no such file");
  if (skip_bytes > 0) {
    in.ignore(skip_bytes);
    const int64_t skipped = in.gcount();
    if (skipped < skip_bytes || in.peek() == std::char_traits<char>::eof())
      throw FileError(path, "skipping " + std::to_string(skip_bytes) + " bytes leaves nothing of its " +
                                std::to_string(skipped) + " bytes");
  }
  // Only what is asked for is read: max_bytes plus the byte after them (to find the character
  // boundary), more when the skip landed inside a character.
  std::string s;
  if (max_bytes <= 0) {
    std::ostringstream ss;
    ss << in.rdbuf();
    s = ss.str();
  } else {
    read_more(in, s, static_cast<size_t>(max_bytes) + 1);
  }
  if (skip_bytes > 0) {
    size_t n = 0;  // move the start to a UTF-8 boundary
    while (true) {
      while (n < s.size() && utf8_continuation(s[n])) ++n;
      if (n < s.size() || max_bytes <= 0 || !read_more(in, s, 64)) break;
    }
    s.erase(0, n);
    if (max_bytes > 0 && s.size() <= static_cast<size_t>(max_bytes)) read_more(in, s, max_bytes + 1 - s.size());
  }
  if (in.bad()) throw FileError(path, "read error");
  if (max_bytes > 0 && static_cast<int64_t>(s.size()) > max_bytes) {
    size_t n = static_cast<size_t>(max_bytes);
    while (n > 0 && utf8_continuation(s[n])) --n;  // UTF-8 boundary
    s.resize(n);
  }
  check_text(s, path);
  return s;
}

namespace {
std::string to_hex(const unsigned char* digest, unsigned int len) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}
}  // namespace

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw Error("sha256: OpenSSL EVP_Digest failed");
  return to_hex(digest, len);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw Error("sha256: OpenSSL EVP_DigestInit_ex failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, size_t bytes) {
  if (bytes > 0 && EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, bytes) != 1)
    throw Error("sha256: OpenSSL EVP_DigestUpdate failed");
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len) != 1)
    throw Error("sha256: OpenSSL EVP_DigestFinal_ex failed");
  return to_hex(digest, len);
}

std::string sha256_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw FileError(path, "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, fs::exists(path, ec) ? "cannot be read" : "no such file");
  Sha256 h;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    h.update(block.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw FileError(path, "read error while hashing");
  return h.hex();
}

int set_threads(int n) {
  const unsigned hw = std::thread::hardware_concurrency();
  const int cap = hw > 0 ? static_cast<int>(hw) : 1024;  // 0: unknown; 100000 threads would hang
  if (n <= 0) {
    n = hw > 0 ? cap : 1;
  } else if (n > cap) {
    std::fprintf(stderr, "skvq: warning: %d threads asked for, but this machine has %d hardware threads; using %d\n", n,
                 cap, cap);
    n = cap;
  }
  at::set_num_threads(n);
  return n;
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace skvq
