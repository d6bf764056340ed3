#pragma once
// Builds GGUF v3 files in memory for the tests (format: core/src/model/gguf_file.h).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace skvq::test {

class GgufBuilder {
 public:
  enum Type : uint32_t { U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STR = 8, ARR = 9, U64 = 10, I64 = 11, F64 = 12 };
  uint32_t version = 3;

  template <class T>
  static void put(std::string& b, T v) {
    char c[sizeof(T)];
    std::memcpy(c, &v, sizeof(T));
    b.append(c, sizeof(T));
  }
  static void put_str(std::string& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    b += s;
  }
  // Raw key + type + value bytes (for hand-made malformed entries).
  void kv_raw(const std::string& key, uint32_t type, const std::string& value) {
    std::string e;
    put_str(e, key);
    put<uint32_t>(e, type);
    e += value;
    kvs_.push_back(e);
  }
  void u32(const std::string& k, uint32_t v) { std::string b; put(b, v); kv_raw(k, U32, b); }
  void f32(const std::string& k, float v) { std::string b; put(b, v); kv_raw(k, F32, b); }
  void boolean(const std::string& k, bool v) { kv_raw(k, BOOL, std::string(1, v ? 1 : 0)); }
  void str(const std::string& k, const std::string& v) { std::string b; put_str(b, v); kv_raw(k, STR, b); }
  void strs(const std::string& k, const std::vector<std::string>& v) {
    std::string b;
    put<uint32_t>(b, STR);
    put<uint64_t>(b, v.size());
    for (const auto& s : v) put_str(b, s);
    kv_raw(k, ARR, b);
  }
  template <class T>
  void nums(const std::string& k, uint32_t elem_type, const std::vector<T>& v) {
    std::string b;
    put<uint32_t>(b, elem_type);
    put<uint64_t>(b, v.size());
    for (T x : v) put<T>(b, x);
    kv_raw(k, ARR, b);
  }
  /// A tensor with ggml-order dims `ne` and raw data bytes of ggml type `type`.
  void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, const std::string& data) {
    tensors_.push_back({name, std::move(ne), type, data});
  }
  void tensor_f32(const std::string& name, std::vector<uint64_t> ne, const float* x, size_t n) {
    tensor(name, std::move(ne), 0, std::string(reinterpret_cast<const char*>(x), n * 4));
  }

  std::string build(uint64_t alignment = 32) const {
    std::string b = "GGUF";
    put<uint32_t>(b, version);
    put<uint64_t>(b, tensors_.size());
    put<uint64_t>(b, kvs_.size());
    for (const auto& e : kvs_) b += e;
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const auto& t : tensors_) {
      put_str(b, t.name);
      put<uint32_t>(b, static_cast<uint32_t>(t.ne.size()));
      for (uint64_t d : t.ne) put<uint64_t>(b, d);
      put<uint32_t>(b, t.type);
      put<uint64_t>(b, offset);
      offsets.push_back(offset);
      offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    b.resize((b.size() + alignment - 1) / alignment * alignment, '\0');
    for (size_t i = 0; i < tensors_.size(); ++i) {
      b += tensors_[i].data;
      b.resize((b.size() + alignment - 1) / alignment * alignment, '\0');
    }
    return b;
  }

 private:
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::string data;
  };
  std::vector<std::string> kvs_;
  std::vector<T> tensors_;
};

}  // namespace skvq::test
