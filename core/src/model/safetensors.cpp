// safetensors reader (F64/F32/F16/BF16 -> float32) and float32 writer.
#include "model/safetensors.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/mapped_file.h"
#include "skvq/common.h"
#include "skvq/error.h"

namespace skvq::safetensors {
namespace {
using json = nlohmann::json;

// Element size of a safetensors dtype, 0 if unknown.
int64_t element_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" ||
      dtype == "F8_E5M2")
    return 1;
  return 0;
}

}  // namespace

Header read_header(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw FileError(path, fs::exists(path, ec) ? "not a regular file" : "no such file");
  Header h;
  h.file_size = fs::file_size(path, ec);
  if (ec) throw FileError(path, "cannot get the file size: " + ec.message());
  if (h.file_size < 8)
    throw FileError(path, "truncated safetensors file: " + std::to_string(h.file_size) +
                              " bytes, less than the 8-byte header length");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot be read");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  if (!in) throw FileError(path, "cannot read the header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > h.file_size - 8)
    throw FileError(path, "safetensors header length " + std::to_string(n) +
                              " is larger than the file (" + std::to_string(h.file_size) +
                              " bytes); truncated or not a safetensors file");
  if (n > (uint64_t(100) << 20))
    throw FileError(path, "safetensors header length " + std::to_string(n) + " exceeds 100 MB");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  if (!in) throw FileError(path, "cannot read the header");
  h.data_start = 8 + n;
  const uint64_t data_size = h.file_size - h.data_start;

  const json j = parse_json_text(text, path);
  if (!j.is_object()) throw FileError(path, "safetensors header is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (e.is_object())
        for (auto m = e.begin(); m != e.end(); ++m)
          if (m.value().is_string()) h.metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    auto bad = [&](const std::string& what) {
      return FileError(path, "tensor '" + name + "': " + what);
    };
    if (!e.is_object() || !e.contains("dtype") || !e["dtype"].is_string() ||
        !e.contains("shape") || !e["shape"].is_array() || !e.contains("data_offsets") ||
        !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      throw bad("header entry needs dtype, shape and data_offsets [begin, end]");
    TensorInfo t;
    t.dtype = e["dtype"].get<std::string>();
    const int64_t es = element_size(t.dtype);
    if (es == 0) throw bad("unknown dtype '" + t.dtype + "'");
    uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) throw bad("shape has a non-integer or negative dimension");
      t.shape.push_back(d.get<int64_t>());
      overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(d.get<int64_t>()), &numel);
    }
    uint64_t bytes = 0;
    // int64 element counts (LibTorch) and byte counts must both be representable.
    if (overflow || numel > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_mul_overflow(numel, static_cast<uint64_t>(es), &bytes) || bytes > static_cast<uint64_t>(INT64_MAX))
      throw bad("shape " + e["shape"].dump() + " has more elements than a 64-bit count can hold");
    const json& off = e["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets must be non-negative integers");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    if (t.begin > t.end) throw bad("data_offsets begin > end");
    if (t.end > data_size)
      throw bad("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                "] lie past the end of the data (" + std::to_string(data_size) +
                " bytes); the file is truncated or corrupt");
    if (t.end - t.begin != bytes)
      throw bad("data_offsets span " + std::to_string(t.end - t.begin) + " bytes but shape x " +
                t.dtype + " needs " + std::to_string(bytes));
    h.tensors.emplace(name, std::move(t));
  }
  return h;
}

namespace {
// The floating LibTorch type of a tensor entry; FileError for other dtypes or a missing name.
const TensorInfo& float_entry(const std::string& path, const Header& header, const std::string& name,
                              at::ScalarType& st) {
  auto it = header.tensors.find(name);
  if (it == header.tensors.end()) throw FileError(path, "no tensor '" + name + "'");
  const TensorInfo& t = it->second;
  if (t.dtype == "F32")
    st = at::kFloat;
  else if (t.dtype == "F16")
    st = at::kHalf;
  else if (t.dtype == "BF16")
    st = at::kBFloat16;
  else if (t.dtype == "F64")
    st = at::kDouble;
  else
    throw FileError(path, "tensor '" + name + "': dtype " + t.dtype +
                              " cannot be loaded as float (supported: F32, F16, BF16, F64)");
  return t;
}
}  // namespace

at::Tensor map_tensor(const std::shared_ptr<const MappedFile>& file, const Header& header,
                      const std::string& name, at::ScalarType dtype) {
  const std::string& path = file->path();
  at::ScalarType st;
  const TensorInfo& t = float_entry(path, header, name, st);
  if (file->size() != header.file_size)
    throw FileError(path, "the file changed size while loading (" + std::to_string(header.file_size) + " -> " +
                              std::to_string(file->size()) + " bytes)");
  const uint8_t* data = file->data() + header.data_start + t.begin;
  const int64_t es = element_size(t.dtype);
  const auto opts = at::TensorOptions().dtype(st);
  if (t.end == t.begin) return at::empty(t.shape, opts).to(dtype);
  // from_blob's deleter holds the mapping: the tensor outlives the loader's handle safely.
  std::shared_ptr<const MappedFile> keep = file;
  at::Tensor view = at::from_blob(const_cast<uint8_t*>(data), t.shape, [keep](void*) {}, opts);
  if (st == dtype && reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(es) == 0) return view;
  if (reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(es) != 0) {
    at::Tensor copy = at::empty(t.shape, opts);
    std::memcpy(copy.data_ptr(), data, t.end - t.begin);
    return copy.to(dtype);
  }
  return view.to(dtype);  // a converted copy; `view` and its hold on the mapping go away
}

at::Tensor read_tensor(const std::string& path, const Header& header, const std::string& name) {
  at::ScalarType st;
  const TensorInfo& t = float_entry(path, header, name, st);
  at::Tensor raw = at::empty(t.shape, at::TensorOptions().dtype(st));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot be read");
  in.seekg(static_cast<std::streamoff>(header.data_start + t.begin));
  const uint64_t bytes = t.end - t.begin;
  if (bytes > 0) in.read(static_cast<char*>(raw.data_ptr()), static_cast<std::streamsize>(bytes));
  if (!in || static_cast<uint64_t>(in.gcount()) != bytes)
    throw FileError(path, "tensor '" + name + "': short read (file truncated?)");
  return st == at::kFloat ? raw : raw.to(at::kFloat);
}

std::map<std::string, at::Tensor> read_all(const std::string& path) {
  const Header h = read_header(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, info] : h.tensors) out.emplace(name, read_tensor(path, h, name));
  return out;
}

void write(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
           const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) throw FileError(path, "tensor '" + name + "' is undefined");
    if (header.contains(name)) throw FileError(path, "tensor '" + name + "' given twice");
    at::Tensor t = tensor.detach().to(at::kCPU, at::kFloat).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw FileError(path, "cannot be written");
  unsigned char len_bytes[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(n >> (8 * i));
  out.write(reinterpret_cast<const char*>(len_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const at::Tensor& t : data)
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * 4));
  out.flush();
  if (!out) throw FileError(path, "write failed (disk full?)");
}

}  // namespace skvq::safetensors
