// Weights at their own precision: safetensors tensors are views of a memory map when the
// requested dtype is the stored one, hashing streams, and --dtype auto finds bf16 in sharded
// checkpoints (the layout of every 7B Hugging Face model).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "model/mapped_file.h"
#include "model/safetensors.h"
#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/session.h"
#include "skvq/weights.h"
#include "test_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// True when [p, p + bytes) lies inside a mapping of `file` in /proc/self/maps.
bool inside_mapping_of(const void* p, size_t bytes, const std::string& file) {
  const std::string canon = fs::canonical(file).string();
  std::ifstream maps("/proc/self/maps");
  const auto a = reinterpret_cast<uintptr_t>(p);
  for (std::string line; std::getline(maps, line);) {
    if (line.size() < canon.size() || line.compare(line.size() - canon.size(), canon.size(), canon) != 0) continue;
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream ss(line);
    ss >> std::hex >> lo >> dash >> hi;
    if (a >= lo && a + bytes <= hi) return true;
  }
  return false;
}

std::string temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("skvq_mmap_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

// A safetensors file with one BF16 tensor (the project's writer stores F32 only).
void write_bf16_file(const std::string& path, const std::string& name, const at::Tensor& t) {
  const at::Tensor b = t.to(at::kBFloat16).contiguous();
  const uint64_t bytes = static_cast<uint64_t>(b.numel()) * 2;
  std::string header = json{{name, {{"dtype", "BF16"}, {"shape", b.sizes().vec()}, {"data_offsets", {0, bytes}}}}}.dump();
  while (header.size() % 8) header += ' ';
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);  // little-endian on every supported machine
  out.write(header.data(), static_cast<std::streamsize>(n));
  out.write(static_cast<const char*>(b.data_ptr()), static_cast<std::streamsize>(bytes));
}

}  // namespace

TEST(Sha256, StreamingEqualsOneShotAndFips180Vector) {
  EXPECT_EQ(skvq::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  skvq::Sha256 h;
  h.update("a", 1);
  h.update("bc", 2);
  EXPECT_EQ(h.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // A file spanning several 1 MiB read blocks and a partial one.
  const std::string path = temp_dir("sha") + "/blob.bin";
  std::string bytes((3u << 20) + 17, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_EQ(skvq::sha256_file(path), skvq::sha256_hex(bytes));
  EXPECT_THROW(skvq::sha256_file(path + ".missing"), skvq::FileError);
}

TEST(Safetensors, MapTensorIsAViewOfTheFileAtItsOwnDtype) {
  const std::string path = temp_dir("view") + "/w.safetensors";
  const at::Tensor v = at::linspace(-2.0, 2.0, 96).view({8, 12});
  skvq::safetensors::write(path, {{"w", v}});
  const auto header = skvq::safetensors::read_header(path);
  auto file = std::make_shared<const skvq::MappedFile>(path);

  at::Tensor same = skvq::safetensors::map_tensor(file, header, "w", at::kFloat);
  EXPECT_TRUE(inside_mapping_of(same.data_ptr(), 96 * 4, path)) << "float32 from an F32 file must not be copied";
  EXPECT_TRUE(at::equal(same, v));
  at::Tensor half = skvq::safetensors::map_tensor(file, header, "w", at::kBFloat16);
  EXPECT_FALSE(inside_mapping_of(half.data_ptr(), 96 * 2, path)) << "a dtype change is a converted copy";
  EXPECT_TRUE(at::equal(half, v.to(at::kBFloat16)));
  file.reset();  // the view keeps the mapping alive
  EXPECT_TRUE(at::equal(same, v));
  EXPECT_THROW(skvq::safetensors::map_tensor(std::make_shared<const skvq::MappedFile>(path), header, "x", at::kFloat),
               skvq::FileError);
}

TEST(HfModel, Bf16CheckpointLoadsAsViewsOfTheMappedFile) {
  const std::string dir = skvq::test::reference("tiny/llama_bf16");
  const skvq::ModelWeights w = skvq::load_model(dir, at::kBFloat16);
  const at::Tensor& k = w.layers[0].k_proj;
  ASSERT_EQ(k.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(inside_mapping_of(k.data_ptr(), static_cast<size_t>(k.numel()) * 2, dir + "/model.safetensors"));
  // The same values as the copying reader (which converts to float32).
  const auto header = skvq::safetensors::read_header(dir + "/model.safetensors");
  EXPECT_TRUE(at::equal(k.to(at::kFloat),
                        skvq::safetensors::read_tensor(dir + "/model.safetensors", header, "model.layers.0.self_attn.k_proj.weight")));
}

TEST(HfModel, AutoDtypeFindsBf16InAShardedCheckpoint) {
  const std::string dir = temp_dir("sharded");
  write_bf16_file(dir + "/model-00002-of-00002.safetensors", "model.embed_tokens.weight", at::ones({4, 2}));
  std::ofstream(dir + "/config.json") << "{}";
  std::ofstream(dir + "/model.safetensors.index.json")
      << json{{"weight_map", {{"model.embed_tokens.weight", "model-00002-of-00002.safetensors"}}}}.dump();
  EXPECT_EQ(skvq::resolve_model_dtype("auto", dir, "cpu"), at::kBFloat16);
  // A broken index is the loader's to report; the guess falls back to float32.
  std::ofstream(dir + "/model.safetensors.index.json") << "{";
  EXPECT_EQ(skvq::resolve_model_dtype("auto", dir, "cpu"), at::kFloat);
}

TEST(Calibration, WeightsFingerprintIsSha256OfFloat32KvWeights) {
  // The definition stored in calibration files (calibration.h), now hashed tensor by tensor.
  const skvq::ModelWeights w = skvq::load_model(skvq::data_path("models/stories260K/stories260K.bin"));
  std::string bytes;
  for (const auto& l : w.layers)
    for (const at::Tensor* t : {&l.k_proj, &l.v_proj}) {
      const at::Tensor f = t->to(at::kFloat).contiguous();
      bytes.append(static_cast<const char*>(f.data_ptr()), static_cast<size_t>(f.numel()) * 4);
    }
  EXPECT_EQ(skvq::kv_weights_fingerprint(w), skvq::sha256_hex(bytes));
}
