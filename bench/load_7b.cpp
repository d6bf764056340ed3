// Benchmark: loading a Llama-2-7B-shaped bfloat16 checkpoint (Hugging Face layout: three
// safetensors shards and model.safetensors.index.json, random weights) the way every command
// does (load_model at the checkpoint's dtype: memory-mapped, hashed by streaming, checked
// finite), then one short forward pass. Reports load time and peak RSS against the file size:
// the goal is peak RSS <= 1.1 x the checkpoint (the weights are views of the page cache).
// The load runs in a fresh child process so that generating the file does not count.
//   skvq-bench-load [--dir DIR] [--keep] [--tokens T] [--layers N]
// DIR defaults to $SKVQ_BENCH_DIR or /tmp/skvq-bench-7b; it needs ~13.5 GB free and is deleted
// at the end unless --keep (a kept directory is reused).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "skvq/blas_select.h"
#include "skvq/common.h"
#include "skvq/model.h"
#include "skvq/weights.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Shape {
  int64_t vocab = 32000, hidden = 4096, intermediate = 11008, layers = 32, heads = 32, kv_heads = 32;
};

struct Entry {
  std::string name;
  std::vector<int64_t> shape;
};

std::vector<Entry> llama_tensors(const Shape& s) {
  std::vector<Entry> t = {{"model.embed_tokens.weight", {s.vocab, s.hidden}}};
  const int64_t kv = s.hidden / s.heads * s.kv_heads;
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    t.push_back({p + "input_layernorm.weight", {s.hidden}});
    t.push_back({p + "self_attn.q_proj.weight", {s.hidden, s.hidden}});
    t.push_back({p + "self_attn.k_proj.weight", {kv, s.hidden}});
    t.push_back({p + "self_attn.v_proj.weight", {kv, s.hidden}});
    t.push_back({p + "self_attn.o_proj.weight", {s.hidden, s.hidden}});
    t.push_back({p + "post_attention_layernorm.weight", {s.hidden}});
    t.push_back({p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}});
    t.push_back({p + "mlp.up_proj.weight", {s.intermediate, s.hidden}});
    t.push_back({p + "mlp.down_proj.weight", {s.hidden, s.intermediate}});
  }
  t.push_back({"model.norm.weight", {s.hidden}});
  t.push_back({"lm_head.weight", {s.vocab, s.hidden}});
  return t;
}

int64_t numel(const Entry& e) {
  int64_t n = 1;
  for (int64_t d : e.shape) n *= d;
  return n;
}

// Random bfloat16 data: uniform in about +-0.03 for matrices (so activations stay finite), 1 for
// norm weights. xorshift64 is enough: the benchmark measures bytes, not numerics.
void write_bf16(std::ofstream& out, int64_t n, bool ones, uint64_t& state) {
  std::vector<uint16_t> block(1 << 22);
  while (n > 0) {
    const int64_t m = std::min<int64_t>(n, static_cast<int64_t>(block.size()));
    for (int64_t i = 0; i < m; ++i) {
      float v = 1.0f;
      if (!ones) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        v = (static_cast<float>(state >> 40) / static_cast<float>(1 << 24) - 0.5f) * 0.06f;
      }
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      block[static_cast<size_t>(i)] = static_cast<uint16_t>(bits >> 16);
    }
    out.write(reinterpret_cast<const char*>(block.data()), m * 2);
    n -= m;
  }
}

// One safetensors shard holding `entries` (BF16), in the format of model/safetensors.h.
void write_shard(const fs::path& path, const std::vector<Entry>& entries, uint64_t& state) {
  json header = json::object();
  uint64_t off = 0;
  for (const Entry& e : entries) {
    const uint64_t bytes = static_cast<uint64_t>(numel(e)) * 2;
    header[e.name] = {{"dtype", "BF16"}, {"shape", e.shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t n = text.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(n >> (8 * i));
  out.write(len, 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const Entry& e : entries) write_bf16(out, numel(e), e.shape.size() == 1, state);
  out.flush();
  if (!out) throw std::runtime_error(path.string() + ": write failed (disk full?)");
}

void generate(const fs::path& dir, const Shape& s) {
  fs::create_directories(dir);
  const json config = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
                       {"hidden_size", s.hidden}, {"intermediate_size", s.intermediate},
                       {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
                       {"num_key_value_heads", s.kv_heads}, {"vocab_size", s.vocab},
                       {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0},
                       {"tie_word_embeddings", false}, {"torch_dtype", "bfloat16"}};
  std::ofstream(dir / "config.json") << config.dump(2);
  const auto all = llama_tensors(s);
  const uint64_t shard_bytes = uint64_t(5) << 30;  // Hugging Face's default max_shard_size "5GB"
  std::vector<std::vector<Entry>> shards(1);
  uint64_t in_shard = 0;
  for (const Entry& e : all) {
    const uint64_t b = static_cast<uint64_t>(numel(e)) * 2;
    if (in_shard > 0 && in_shard + b > shard_bytes) shards.emplace_back(), in_shard = 0;
    shards.back().push_back(e);
    in_shard += b;
  }
  json map = json::object();
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_shard(dir / name, shards[i], state);
    for (const Entry& e : shards[i]) map[e.name] = name;
  }
  std::ofstream(dir / "model.safetensors.index.json") << json{{"metadata", json::object()}, {"weight_map", map}}.dump(1);
}

uint64_t checkpoint_bytes(const fs::path& dir) {
  uint64_t n = 0;
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().extension() == ".safetensors") n += fs::file_size(f.path());
  return n;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The child: load as every command does, one forward pass, report. Peak RSS from getrusage.
// Resident set size now (VmRSS of /proc/self/status), bytes.
double rss_now() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) * 1024.0;
  return 0;
}

int load_and_report(const fs::path& dir, int64_t tokens) {
  at::empty({1});  // LibTorch initialised: its own footprint is the baseline
  const double baseline = rss_now();
  const auto t0 = std::chrono::steady_clock::now();
  skvq::ModelWeights w = skvq::load_model(dir.string(), at::kBFloat16);
  const double load_s = seconds_since(t0);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_load = static_cast<double>(ru.ru_maxrss) * 1024.0;
  skvq::Model model(std::move(w));
  const auto t1 = std::chrono::steady_clock::now();
  at::Tensor ids = at::arange(1, tokens + 1, at::kLong).view({1, tokens});
  at::Tensor logits = model.forward(ids, nullptr, nullptr, true);
  const double fwd_s = seconds_since(t1);
  getrusage(RUSAGE_SELF, &ru);
  const double rss = static_cast<double>(ru.ru_maxrss) * 1024.0;
  const double file = static_cast<double>(checkpoint_bytes(dir));
  std::printf("%-34s %10.2f GB\n", "checkpoint (bf16 safetensors)", file / 1e9);
  std::printf("%-34s %10.2f GB  (the process before loading)\n", "RSS of LibTorch alone", baseline / 1e9);
  std::printf("%-34s %10.2f s\n", "load (map, sha256, finite check)", load_s);
  std::printf("%-34s %10.2f GB  (%.3f x file)\n", "peak RSS after load", rss_load / 1e9, rss_load / file);
  std::printf("%-34s %10.2f s   (%lld tokens, logits finite: %s)\n", "forward pass", fwd_s,
              static_cast<long long>(tokens), at::isfinite(logits).all().item<bool>() ? "yes" : "NO");
  std::printf("%-34s %10.2f GB  (%.3f x file; goal <= 1.1)\n", "peak RSS after forward", rss / 1e9, rss / file);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  skvq::select_blas_kernels(argv);
  const char* env_dir = std::getenv("SKVQ_BENCH_DIR");
  fs::path dir = env_dir ? env_dir : "/tmp/skvq-bench-7b";
  bool keep = false, child = false;
  int64_t tokens = 8;
  Shape shape;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--keep") keep = true;
    else if (a == "--child") child = true;
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--tokens" && i + 1 < argc) tokens = std::max(1LL, std::atoll(argv[++i]));
    else if (a == "--layers" && i + 1 < argc) shape.layers = std::max(1LL, std::atoll(argv[++i]));
    else {
      std::fprintf(stderr, "usage: skvq-bench-load [--dir DIR] [--keep] [--tokens T] [--layers N]\n");
      return 1;
    }
  }
  try {
    if (child) return load_and_report(dir, tokens);
    skvq::set_threads(0);
    const bool reuse = fs::exists(dir / "model.safetensors.index.json");
    std::printf("Llama-2-7B-shaped bf16 checkpoint (%lld layers) in %s\n", static_cast<long long>(shape.layers),
                dir.c_str());
    if (!reuse) {
      const auto t0 = std::chrono::steady_clock::now();
      generate(dir, shape);
      std::printf("%-34s %10.2f s\n", "generated", seconds_since(t0));
    }
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<std::string> args = {"/proc/self/exe", "--child", "--dir", dir.string(), "--tokens",
                                       std::to_string(tokens)};
      std::vector<char*> cargs;
      for (auto& s : args) cargs.push_back(s.data());
      cargs.push_back(nullptr);
      execv(cargs[0], cargs.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!keep) fs::remove_all(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "skvq-bench-load: %s\n", e.what());
    if (!keep) fs::remove_all(dir);
    return 1;
  }
}
