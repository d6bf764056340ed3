// skvq info: what a model is (architecture, parameters, KV bytes per token); for a GGUF file
// also its metadata, tensor types and tokenizer.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "commands.h"
#include "model/gguf_file.h"
#include "model/gguf_quants.h"
#include "skvq/chat_template.h"
#include "skvq/common.h"
#include "skvq/session.h"
#include "skvq/weights.h"

namespace skvq::cli {

namespace {

// One metadata value on one line: strings quoted and escaped (invalid UTF-8 replaced), long
// arrays summarised by their length.
std::string show_value(const nlohmann::json& v) {
  if (v.is_array() && v.size() > 8) return "[" + std::to_string(v.size()) + " values]";
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 160) s = s.substr(0, 157) + "...";
  return s;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// `skvq info` for a GGUF file: metadata summary, tensor types, KV-cache facts, read from the
// header only (no weights are dequantized).
void print_gguf_info(const std::string& path) {
  const gguf::File f(path);
  const nlohmann::json& meta = f.metadata();
  std::printf("%s: GGUF version %u, %llu bytes, %zu tensors, %zu metadata keys, alignment %llu\n",
              path.c_str(), f.version(), static_cast<unsigned long long>(f.size()), f.tensors().size(), meta.size(),
              static_cast<unsigned long long>(f.alignment()));
  auto print_keys = [&](const std::string& prefix, const std::set<std::string>& skip = {}) {
    for (auto it = meta.begin(); it != meta.end(); ++it)
      if (it.key().rfind(prefix, 0) == 0 && !skip.count(it.key()))
        std::printf("  %-44s %-14s %s\n", it.key().c_str(), f.type_name(it.key()).c_str(),
                    show_value(it.value()).c_str());
  };
  std::printf("general:\n");
  print_keys("general.");
  const std::string arch = f.has("general.architecture") ? f.get_string("general.architecture") : "";
  if (!arch.empty()) {
    std::printf("architecture %s:\n", arch.c_str());
    print_keys(arch + ".");
  }

  std::printf("tokenizer:\n");
  auto str_or = [&](const std::string& key, const std::string& dflt) {
    return f.has(key) && meta[key].is_string() ? meta[key].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                               : dflt;
  };
  auto array_size = [&](const std::string& key) -> long long {
    return f.has(key) && meta[key].is_array() ? static_cast<long long>(meta[key].size()) : 0;
  };
  std::printf("  model %s, pre %s, vocabulary %lld tokens, %lld merges\n", str_or("tokenizer.ggml.model", "-").c_str(),
              str_or("tokenizer.ggml.pre", "-").c_str(), array_size("tokenizer.ggml.tokens"),
              array_size("tokenizer.ggml.merges"));
  const std::string tpfx = "tokenizer.ggml.";
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    const std::string& k = it.key();
    if (k.rfind(tpfx, 0) != 0) continue;
    const bool special_id = k.size() > 9 && k.compare(k.size() - 9, 9, "_token_id") == 0;
    const bool adds = k.rfind(tpfx + "add_", 0) == 0;
    if (!special_id && !adds) continue;
    std::string line = "  " + k.substr(tpfx.size()) + " " + show_value(it.value());
    const auto& tokens = f.has("tokenizer.ggml.tokens") ? meta["tokenizer.ggml.tokens"] : nlohmann::json();
    if (special_id && it.value().is_number_integer() && tokens.is_array()) {
      const int64_t id = it.value().get<int64_t>();
      if (id >= 0 && id < static_cast<int64_t>(tokens.size()))
        line += " " + show_value(tokens[static_cast<size_t>(id)]);
    }
    std::printf("%s\n", line.c_str());
  }
  const std::string tmpl = f.has("tokenizer.chat_template") && meta["tokenizer.chat_template"].is_string()
                               ? meta["tokenizer.chat_template"].get<std::string>()
                               : std::string();
  if (tmpl.empty()) {
    std::printf("  chat template: none\n");
  } else {
    const ChatFamily fam = detect_chat_family(tmpl);
    std::printf("  chat template: %s (%zu characters)\n",
                fam == ChatFamily::None ? "unrecognised family" : chat_family_name(fam).c_str(), tmpl.size());
    const std::string sys = chat_default_system(fam, tmpl);
    if (!sys.empty())
      std::printf("  default system message: %s\n", nlohmann::json(sys).dump(-1, ' ', false,
                                                                         nlohmann::json::error_handler_t::replace).c_str());
  }

  // Tensor types: count, elements and bytes per ggml type, the largest first.
  struct TypeRow {
    std::string name;
    int64_t count = 0, elements = 0;
    uint64_t bytes = 0;
  };
  std::map<uint32_t, TypeRow> rows;
  int64_t params = 0;
  uint64_t data_bytes = 0;
  for (const auto& t : f.tensors()) {
    TypeRow& r = rows[t.type];
    if (r.name.empty()) {
      const gguf::TypeInfo* ti = gguf::type_info(t.type);
      r.name = ti ? ti->name : "type " + std::to_string(t.type);
    }
    ++r.count;
    r.elements += t.numel();
    r.bytes += t.nbytes;
    params += t.numel();
    data_bytes += t.nbytes;
  }
  std::vector<TypeRow> sorted;
  for (auto& [id, r] : rows) sorted.push_back(r);
  std::sort(sorted.begin(), sorted.end(), [](const TypeRow& a, const TypeRow& b) { return a.bytes > b.bytes; });
  std::printf("tensor types:\n");
  for (const auto& r : sorted)
    std::printf("  %-8s %5lld tensors %12lld elements %12llu bytes (%s)\n", r.name.c_str(),
                static_cast<long long>(r.count), static_cast<long long>(r.elements),
                static_cast<unsigned long long>(r.bytes), mib(r.bytes).c_str());
  std::printf("  %-8s %5zu tensors %12lld elements %12llu bytes (%s)\n", "total", f.tensors().size(),
              static_cast<long long>(params), static_cast<unsigned long long>(data_bytes), mib(data_bytes).c_str());

  // KV cache: the model's hyperparameters as the loader reads them (gguf_model.cpp).
  if (!arch.empty() && f.has(arch + ".block_count") && f.has(arch + ".attention.head_count")) {
    const int64_t layers = f.get_int(arch + ".block_count");
    const int64_t heads = f.get_int(arch + ".attention.head_count");
    const int64_t kv_heads =
        f.has(arch + ".attention.head_count_kv") ? f.get_int(arch + ".attention.head_count_kv") : heads;
    int64_t head_dim = 0;
    if (f.has(arch + ".attention.key_length"))
      head_dim = f.get_int(arch + ".attention.key_length");
    else if (heads > 0 && f.has(arch + ".embedding_length"))
      head_dim = f.get_int(arch + ".embedding_length") / heads;
    const int64_t channels = kv_heads * head_dim;
    std::printf("KV cache:\n");
    std::printf("  num_hidden_layers %lld, num_attention_heads %lld, num_key_value_heads %lld, head_dim %lld\n",
                static_cast<long long>(layers), static_cast<long long>(heads), static_cast<long long>(kv_heads),
                static_cast<long long>(head_dim));
    std::printf("  K/V channels per layer %lld, float16 KV bytes per token %lld (K and V x %lld layers x %lld "
                "channels x 2 bytes)\n",
                static_cast<long long>(channels), static_cast<long long>(2 * layers * channels * 2),
                static_cast<long long>(layers), static_cast<long long>(channels));
  }
  std::printf("parameters %lld\n", static_cast<long long>(params));
  std::printf("sha256 %s\n", sha256_file(path).c_str());
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "describe a model");
  cmd->add_option("--model", *model, "llama2.c .bin file, Hugging Face directory or GGUF file")->required();
  cmd->callback([model] {
    if (is_gguf_file(*model)) {
      print_gguf_info(*model);
      return;
    }
    ModelWeights w = load_model(*model, resolve_model_dtype(globals().dtype, *model));
    std::cout << w.name << ": " << w.config.describe() << "\n"
              << "parameters " << w.num_parameters() << ", K/V channels per layer " << w.config.kv_channels()
              << ", float16 KV bytes per token " << w.config.kv_bytes_per_token(2) << "\n"
              << "sha256 " << w.sha256 << "\n";
  });
}

}  // namespace skvq::cli
