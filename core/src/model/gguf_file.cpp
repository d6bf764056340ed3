// GGUF reader: header, metadata (all value types, nested arrays), tensor infos, data offset;
// every count and offset validated against the file size (format: gguf_file.h).
#include "model/gguf_file.h"

#include <cstring>

#include "model/gguf_quants.h"
#include "skvq/error.h"

namespace skvq::gguf {
namespace {
using json = nlohmann::json;

enum ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12
};
constexpr int kMaxArrayDepth = 8;
constexpr int kMaxDims = 4;  // GGML_MAX_DIMS

const char* value_type_name(uint32_t t) {
  static const char* names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                "bool", "string", "array", "uint64", "int64", "float64"};
  return t <= FLOAT64 ? names[t] : "unknown";
}

// Bytes of a fixed-size value type, 0 for string/array/unknown.
uint64_t fixed_size(uint32_t t) {
  switch (t) {
    case UINT8: case INT8: case BOOL: return 1;
    case UINT16: case INT16: return 2;
    case UINT32: case INT32: case FLOAT32: return 4;
    case UINT64: case INT64: case FLOAT64: return 8;
    default: return 0;
  }
}

// A bounds-checked cursor over the mapped bytes.
class Reader {
 public:
  Reader(const uint8_t* p, uint64_t size, const std::string& path) : p_(p), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw FileError(path_, what + " (at byte " + std::to_string(pos_) + " of " + std::to_string(size_) + ")");
  }
  void need(uint64_t n, const char* what) const {
    if (n > left()) fail(std::string("truncated GGUF file: ") + what + " runs past the end");
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const char* what) {
    const uint64_t n = get<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  uint64_t size_, pos_ = 0;
  const std::string& path_;
};

json read_value(Reader& r, uint32_t type, int depth, std::string& type_name) {
  switch (type) {
    case UINT8: return r.get<uint8_t>("a uint8 value");
    case INT8: return r.get<int8_t>("an int8 value");
    case UINT16: return r.get<uint16_t>("a uint16 value");
    case INT16: return r.get<int16_t>("an int16 value");
    case UINT32: return r.get<uint32_t>("a uint32 value");
    case INT32: return r.get<int32_t>("an int32 value");
    case UINT64: return r.get<uint64_t>("a uint64 value");
    case INT64: return r.get<int64_t>("an int64 value");
    case FLOAT32: return r.get<float>("a float32 value");
    case FLOAT64: return r.get<double>("a float64 value");
    case BOOL: {
      const uint8_t b = r.get<uint8_t>("a bool value");
      if (b > 1) r.fail("bool value " + std::to_string(b) + " is neither 0 nor 1");
      return b == 1;
    }
    case STRING: return r.string("a string value");
    case ARRAY: {
      if (depth >= kMaxArrayDepth) r.fail("arrays nested deeper than " + std::to_string(kMaxArrayDepth));
      const uint32_t et = r.get<uint32_t>("an array element type");
      if (et > FLOAT64) r.fail("array element type " + std::to_string(et) + " is unknown");
      const uint64_t n = r.get<uint64_t>("an array length");
      // Each element takes at least its fixed size, or 8 bytes (a string or array length).
      const uint64_t min_elem = fixed_size(et) ? fixed_size(et) : 8;
      if (n > r.left() / min_elem)
        r.fail("array of " + std::to_string(n) + " " + value_type_name(et) + " elements runs past the end");
      std::string inner;
      json a = json::array();
      a.get_ref<json::array_t&>().reserve(n);
      for (uint64_t i = 0; i < n; ++i) a.push_back(read_value(r, et, depth + 1, inner));
      type_name = std::string("array[") + (inner.empty() ? value_type_name(et) : inner) + "]";
      return a;
    }
    default:
      r.fail("metadata value type " + std::to_string(type) + " is unknown");
  }
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

File::File(const std::string& path) : map_(std::make_shared<MappedFile>(path)) {
  Reader r(map_->data(), map_->size(), path);
  if (map_->size() < 4 || std::memcmp(map_->data(), "GGUF", 4) != 0)
    throw FileError(path, map_->size() < 4 ? "truncated GGUF file (" + std::to_string(map_->size()) + " bytes)"
                                           : "not a GGUF file (wrong magic)");
  r.get<uint32_t>("the magic");
  version_ = r.get<uint32_t>("the version");
  if (version_ != 2 && version_ != 3)
    throw FileError(path, "unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  const uint64_t n_tensors = r.get<uint64_t>("the tensor count");
  const uint64_t n_kv = r.get<uint64_t>("the metadata count");
  // A metadata entry needs at least 8 + 4 + 1 bytes, a tensor info at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > r.left() / 13) r.fail("metadata count " + std::to_string(n_kv) + " is larger than the file allows");
  if (n_tensors > r.left() / 32) r.fail("tensor count " + std::to_string(n_tensors) + " is larger than the file allows");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.string("a metadata key");
    const uint32_t type = r.get<uint32_t>("a metadata value type");
    std::string tname = value_type_name(type);
    json v = read_value(r, type, 0, tname);
    if (meta_.contains(key)) r.fail("metadata key '" + key + "' appears twice");
    types_[key] = tname;
    meta_[key] = std::move(v);
  }
  if (meta_.contains("general.alignment")) {
    const json& a = meta_["general.alignment"];
    if (!a.is_number_unsigned() || a.get<uint64_t>() == 0 || (a.get<uint64_t>() & (a.get<uint64_t>() - 1)) ||
        a.get<uint64_t>() > (1u << 20))
      throw FileError(path, "general.alignment must be a power of two up to 1 MiB, got " + a.dump());
    alignment_ = a.get<uint64_t>();
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = r.string("a tensor name");
    const uint32_t n_dims = r.get<uint32_t>("a tensor's dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      r.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.get<uint64_t>("a tensor dimension");
      if (ne == 0 || ne > (uint64_t(1) << 40) || __builtin_mul_overflow(numel, static_cast<int64_t>(ne), &numel) ||
          numel > (int64_t(1) << 44))
        r.fail("tensor '" + t.name + "' has an absurd shape (dimension " + std::to_string(ne) + ")");
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    t.type = r.get<uint32_t>("a tensor type");
    const TypeInfo* ti = type_info(t.type);
    if (!ti) r.fail("tensor '" + t.name + "' has unknown ggml type " + std::to_string(t.type));
    if (t.ne[0] % ti->block_size != 0)
      r.fail("tensor '" + t.name + "' row of " + std::to_string(t.ne[0]) + " elements is not a multiple of the " +
             ti->name + " block size " + std::to_string(ti->block_size));
    t.nbytes = static_cast<uint64_t>(numel / ti->block_size) * static_cast<uint64_t>(ti->type_size);
    t.offset = r.get<uint64_t>("a tensor offset");
    if (t.offset % alignment_ != 0)
      r.fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not aligned to " + std::to_string(alignment_));
    if (by_name_.count(t.name)) r.fail("tensor name '" + t.name + "' appears twice");
    by_name_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > size() && !tensors_.empty()) throw FileError(path, "truncated GGUF file: no tensor data");
  const uint64_t data_size = size() > data_offset_ ? size() - data_offset_ : 0;
  for (TensorInfo& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw FileError(path, "tensor '" + t.name + "' (" + std::to_string(t.nbytes) + " bytes at data offset " +
                                std::to_string(t.offset) + ") lies beyond the end of the file; truncated?");
    t.offset += data_offset_;
  }
}

std::string File::type_name(const std::string& key) const {
  auto it = types_.find(key);
  return it == types_.end() ? std::string() : it->second;
}

const TensorInfo* File::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

std::string File::get_string(const std::string& key) const {
  if (!meta_.contains(key)) throw FileError(path(), "missing metadata key '" + key + "'");
  if (!meta_[key].is_string()) throw FileError(path(), "metadata key '" + key + "' is not a string");
  return meta_[key].get<std::string>();
}

int64_t File::get_int(const std::string& key) const {
  if (!meta_.contains(key)) throw FileError(path(), "missing metadata key '" + key + "'");
  const json& v = meta_[key];
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) throw FileError(path(), "metadata key '" + key + "' is out of range");
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  throw FileError(path(), "metadata key '" + key + "' is not an integer");
}

double File::get_float(const std::string& key) const {
  if (!meta_.contains(key)) throw FileError(path(), "missing metadata key '" + key + "'");
  if (!meta_[key].is_number()) throw FileError(path(), "metadata key '" + key + "' is not a number");
  return meta_[key].get<double>();
}

bool File::get_bool(const std::string& key, bool dflt) const {
  if (!meta_.contains(key)) return dflt;
  if (!meta_[key].is_boolean()) throw FileError(path(), "metadata key '" + key + "' is not a bool");
  return meta_[key].get<bool>();
}

}  // namespace skvq::gguf
