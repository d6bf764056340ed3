// Inputs the evaluation commands and the studio prepare the same way (skvq/eval_inputs.h).
#include "skvq/eval_inputs.h"

#include <algorithm>
#include <filesystem>

#include "skvq/analyze.h"
#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"

namespace skvq {

int64_t default_needle_buffer(const NeedleOptions& opt, const Tokenizer& tok, int64_t max_position_embeddings) {
  const std::string shell = needle_prompt_text(opt, tok, "");
  const int64_t overhead = static_cast<int64_t>(tok.encode(shell, true).size()) + opt.max_new_tokens + 8;
  return std::max<int64_t>(std::min<int64_t>(200, max_position_embeddings / 8), overhead);
}

std::vector<int32_t> leading_text_tokens(const Tokenizer& tok, const std::string& path, int64_t limit) {
  int64_t bytes = std::max<int64_t>(4096, limit * 16);
  std::vector<int32_t> tokens;
  for (;;) {
    const std::string text = read_text(path, bytes);
    tokens = tok.encode(text, true);
    if (static_cast<int64_t>(tokens.size()) > limit || static_cast<int64_t>(text.size()) < bytes) break;
    bytes *= 2;
  }
  if (static_cast<int64_t>(tokens.size()) > limit) tokens.resize(static_cast<size_t>(limit));
  return tokens;
}

QuantConfig default_analyze_config(int64_t kv_channels, const Calibration* calib) {
  int64_t g = analysis_group_size(QuantConfig{}, kv_channels);
  if (calib && !calib->group_sizes.empty() &&
      std::find(calib->group_sizes.begin(), calib->group_sizes.end(), g) == calib->group_sizes.end())
    g = calib->group_sizes.front();
  return QuantConfig::parse("k2-v2-g" + std::to_string(g) + "-reorder-clip-sink5");
}

EvalData load_eval_files(const std::vector<std::string>& paths) {
  if (paths.empty()) throw ConfigError("longbench: no data file given");
  EvalData d;
  std::map<std::string, int64_t> offsets;
  std::string hashes;
  for (const auto& f : paths) {
    auto got = load_eval_jsonl(f, &offsets);
    d.skipped_empty_lines += got.skipped_empty_lines;
    for (auto& s : got.samples) d.samples.push_back(std::move(s));
    d.data_path += (d.data_path.empty() ? "" : ",") + f;
    hashes += sha256_file(f);
  }
  if (d.samples.empty()) throw ConfigError("longbench: the data files hold no samples");
  d.data_sha256 = sha256_hex(hashes);
  return d;
}

TaskTable task_table_with(const std::string& tasks_file) {
  TaskTable tasks = builtin_task_table();
  if (!tasks_file.empty())
    for (auto& [name, spec] : load_task_table(tasks_file)) tasks[name] = spec;
  return tasks;
}

std::string model_display_name(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "dir/"
  std::error_code ec;  // a name the OS refuses is not a directory
  if (fs::is_directory(p, ec)) return p.filename().string();
  if (p.filename() == "config.json" && p.has_parent_path()) return p.parent_path().filename().string();
  return p.stem().string();
}

}  // namespace skvq
