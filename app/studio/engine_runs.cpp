// The Run menu's engine calls (engine_runs.h): the same core calls as `skvq needle`, `skvq
// analyze`, `skvq longbench`, `skvq batch` and `skvq memory`, with the store opened here.
#include "engine_runs.h"

#include <filesystem>
#include <optional>
#include <sstream>

#include "skvq/analyze.h"
#include "skvq/batch.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/eval_inputs.h"
#include "skvq/longbench.h"
#include "skvq/memory.h"
#include "skvq/model.h"
#include "skvq/needle.h"
#include "skvq/quant_config.h"
#include "skvq/run_store.h"
#include "skvq/session.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq::studio {

namespace {

// A loaded model registered in the store, with its calibration when one is given.
struct Prepared {
  LoadedModel lm;
  int64_t model_id = 0;
  std::optional<Calibration> calib;
  std::optional<int64_t> calib_id;
  const Calibration* calibration() const { return calib ? &*calib : nullptr; }
};

Prepared prepare(const RunModel& m, RunStore& store) {
  Prepared p;
  p.lm = load_model_for_eval(m.model_path, m.tokenizer_path);
  p.model_id = register_model(store, p.lm.model->weights(), *p.lm.tokenizer);
  if (!m.calibration_path.empty()) {
    p.calib = Calibration::load(m.calibration_path);
    p.calib->check_model(p.lm.model->weights(), m.calibration_path);
    p.calib_id = register_calibration(store, p.model_id, *p.calib, m.calibration_path);
  }
  return p;
}

std::vector<QuantConfig> parse_configs(const std::vector<std::string>& configs) {
  std::vector<QuantConfig> out;
  for (const auto& c : configs) out.push_back(QuantConfig::parse(c));
  return out;
}

}  // namespace

std::string config_error(const std::string& config, const std::string& model_path) {
  try {
    const QuantConfig c = QuantConfig::parse(config);
    if (!model_path.empty()) {
      std::optional<ModelConfig> model;
      try {
        model = model_config_from_path(model_path);
      } catch (const Error&) {  // the model field reports its own error
      }
      if (model) c.validate_for(*model);
    }
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

bool config_needs_calibration(const std::string& config) {
  try {
    return QuantConfig::parse(config).needs_calibration();
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<int64_t> run_needle_grid(const NeedleRequest& req, const std::string& db, ProgressFn progress,
                                     CancelFlag cancel) {
  const std::vector<QuantConfig> configs = parse_configs(req.configs);
  RunStore store(db);
  const Prepared p = prepare(req.model, store);
  const Tokenizer& tok = *p.lm.tokenizer;
  NeedleOptions opt;
  opt.haystack_dir = req.haystack_dir.empty() ? data_path("text/needle/PaulGrahamEssays") : req.haystack_dir;
  opt.context_lengths = req.lengths;
  opt.depth_percents = req.depths;
  opt.max_new_tokens = req.max_new_tokens;
  opt.chat_template = req.chat_template;
  opt.buffer_tokens = req.buffer_tokens >= 0
                          ? req.buffer_tokens
                          : default_needle_buffer(opt, tok, p.lm.model->weights().config.max_position_embeddings);
  throw_if_cancelled(cancel);
  const auto runs = run_needle(*p.lm.model, tok, configs, p.calibration(), store, p.model_id, p.calib_id, opt,
                               progress, cancel);
  std::vector<int64_t> ids;
  for (const auto& r : runs) ids.push_back(r.run_id);
  return ids;
}

int64_t run_locality_analysis(const AnalyzeRequest& req, const std::string& db, ProgressFn progress,
                              CancelFlag cancel) {
  RunStore store(db);
  const Prepared p = prepare(req.model, store);
  const ModelConfig& mc = p.lm.model->weights().config;
  const int64_t limit = req.max_tokens > 0 ? req.max_tokens : mc.max_position_embeddings;
  const std::vector<int32_t> tokens = leading_text_tokens(*p.lm.tokenizer, req.text_path, limit);
  const QuantConfig config = req.config.empty() ? default_analyze_config(mc.kv_channels(), p.calibration())
                                                : QuantConfig::parse(req.config);
  AnalyzeOptions opt;
  opt.sinks = req.sinks;
  opt.windows = req.windows;
  opt.progress = progress;
  throw_if_cancelled(cancel);
  return run_analyze(*p.lm.model, tokens, req.text_path, config, p.calibration(), store, p.model_id, p.calib_id,
                     opt, cancel)
      .run_id;
}

std::vector<int64_t> run_longbench_tasks(const LongBenchRequest& req, const std::string& db, ProgressFn progress,
                                         CancelFlag cancel) {
  parse_chat_template_option(req.chat_template, "");  // an unknown name fails before any work
  const TaskTable tasks = task_table_with(req.tasks_file);
  const EvalData data = load_eval_files(req.data_paths);
  const std::vector<QuantConfig> configs = parse_configs(req.configs);
  RunStore store(db);
  const Prepared p = prepare(req.model, store);
  LongBenchOptions opt;
  opt.max_samples = req.max_samples;
  opt.max_prompt_tokens = req.max_prompt_tokens;
  opt.chat_template = req.chat_template;
  throw_if_cancelled(cancel);
  const auto runs = run_longbench(*p.lm.model, *p.lm.tokenizer, configs, p.calibration(), store, p.model_id,
                                  p.calib_id, data.samples, tasks, data.data_path, data.data_sha256, opt,
                                  progress, cancel);
  std::vector<int64_t> ids;
  for (const auto& r : runs) ids.push_back(r.run_id);
  return ids;
}

std::string batch_plan(const std::string& job_path) {
  std::ostringstream log;
  BatchRunOptions how;
  how.plan = true;
  run_batch_file(job_path, "", log, nullptr, nullptr, how);
  return log.str();
}

BatchResult run_batch_job(const std::string& job_path, const std::string& db, ProgressFn progress,
                          CancelFlag cancel) {
  std::ostringstream log;
  JobProgressFn report;
  if (progress)
    report = [progress](const std::string&, int64_t, int64_t, int64_t done, int64_t total) { progress(done, total); };
  BatchResult out;
  for (const RunRecord& r : run_batch_file(job_path, db, log, report, cancel)) out.run_ids.push_back(r.id);
  out.log = log.str();
  return out;
}

nlohmann::json memory_plan(const std::string& model_path, const std::vector<std::string>& configs,
                           std::optional<double> budget_gib, std::optional<int64_t> ctx) {
  const ModelConfig model = model_config_from_path(model_path);
  if (ctx && *ctx < 0) throw ConfigError("the context must be a non-negative number of tokens");
  if (budget_gib && !(*budget_gib >= 0)) throw ConfigError("the budget must be a non-negative number of GiB");
  return memory_report(model, model_display_name(model_path), parse_configs(configs), budget_gib, ctx);
}

std::vector<double> memory_curve(const std::string& model_path, const std::string& config,
                                 const std::vector<int64_t>& lengths) {
  const ModelConfig model = model_config_from_path(model_path);
  const QuantConfig c = QuantConfig::parse(config);
  std::vector<double> out;
  for (int64_t n : lengths) out.push_back(static_cast<double>(kv_cache_bytes(model, c, n)));
  return out;
}

}  // namespace skvq::studio
