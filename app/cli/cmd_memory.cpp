// skvq memory: KV-cache bytes per token, cache size at a context and the longest context that
// fits a memory budget, per configuration (pure arithmetic, nothing loaded or stored).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "skvq/error.h"
#include "skvq/eval_inputs.h"
#include "skvq/memory.h"
#include "skvq/quant_config.h"

namespace skvq::cli {
namespace {
namespace fs = std::filesystem;

std::string num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", b, units[u]);
  return buf;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], r[c].size());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string line;
    for (size_t c = 0; c < rows[i].size(); ++c) {
      const std::string pad(w[c] - rows[i][c].size(), ' ');
      line += c == 0 ? rows[i][c] + pad : "  " + pad + rows[i][c];  // first column left, rest right
    }
    std::cout << line << "\n";
    if (i == 0) {
      std::string rule;
      for (size_t c = 0; c < w.size(); ++c) rule += (c ? "  " : "") + std::string(w[c], '-');
      std::cout << rule << "\n";
    }
  }
}

}  // namespace

void add_memory_command(CLI::App& app) {
  struct Options {
    std::string model;
    std::vector<std::string> quant;
    std::optional<double> budget_gib;
    std::optional<int64_t> ctx;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("memory", "KV-cache memory per configuration: bytes per token, "
                                           "cache size at a context, longest context in a budget");
  cmd->add_option("--model", o->model, "Hugging Face directory, its config.json, a GGUF file or a llama2.c .bin")
      ->required();
  cmd->add_option("--quant", o->quant, "configurations, e.g. fp16 k2-v2-g128-w128-sink5-fp8 (default: fp16)")
      ->expected(1, -1);
  cmd->add_option("--budget-gib", o->budget_gib, "memory budget in GiB for weights (float16) + KV cache");
  cmd->add_option("--ctx", o->ctx, "also give the cache size at this context length (tokens)");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    const ModelConfig model = model_config_from_path(o->model);
    std::vector<QuantConfig> configs;
    for (const auto& q : o->quant.empty() ? std::vector<std::string>{"fp16"} : o->quant)
      configs.push_back(QuantConfig::parse(q));
    if (o->ctx && *o->ctx < 0) throw skvq::ConfigError("--ctx must be a non-negative number of tokens");
    if (o->budget_gib && !(*o->budget_gib >= 0)) throw skvq::ConfigError("--budget-gib must be a non-negative number");
    const std::string name = model_display_name(o->model);
    const nlohmann::json report = memory_report(model, name, configs, o->budget_gib, o->ctx);
    if (o->json) {
      std::cout << report.dump(2) << "\n";
      return;
    }
    const int64_t weights = report["weights_bytes"].get<int64_t>();
    std::cout << name << ": " << model.describe() << "\n"
              << "parameters " << report["num_parameters"].get<int64_t>() << ", float16 weights "
              << human_bytes(static_cast<double>(weights)) << "; float16 KV cache "
              << report["fp16_kv_bytes_per_token"].get<int64_t>() << " bytes per token\n";
    if (o->budget_gib) {
      std::cout << "budget " << num(*o->budget_gib, 3) << " GiB: "
                << (static_cast<double>(weights) > *o->budget_gib * 1073741824.0
                        ? "the float16 weights alone do not fit"
                        : human_bytes(*o->budget_gib * 1073741824.0 - static_cast<double>(weights)) +
                              " left for the KV cache")
                << "\n";
    }
    std::cout << "\n";
    std::vector<std::string> head{"config", "bits k/v", "nominal", "bytes/token", "codes", "scale+zero",
                                  "sink+window", "x fp16"};
    if (o->budget_gib) head.push_back("max context");
    if (o->ctx) head.push_back("cache @ " + std::to_string(*o->ctx));
    std::vector<std::vector<std::string>> rows{head};
    for (const auto& r : report["configs"]) {
      std::vector<std::string> row{
          r["config"].get<std::string>(),
          num(r["bits_k"].get<double>(), 4) + "/" + num(r["bits_v"].get<double>(), 4),
          num(r["nominal_bits_k"].get<double>(), 2) + "/" + num(r["nominal_bits_v"].get<double>(), 2),
          num(r["kv_bytes_per_token"].get<double>(), 1),
          num(r["codes_bytes_per_token"].get<double>(), 1),
          num(r["scale_zero_bytes_per_token"].get<double>(), 1),
          human_bytes(r["sink_window_bytes"].get<double>()),
          num(r["compression"].get<double>(), 2)};
      if (o->budget_gib) row.push_back(std::to_string(r["max_context_tokens"].get<int64_t>()));
      if (o->ctx) row.push_back(human_bytes(r["cache_bytes_at_ctx"].get<double>()));
      rows.push_back(std::move(row));
    }
    print_table(rows);
  });
}

}  // namespace skvq::cli
