// The studio's engine calls. This is the only studio file that includes LibTorch headers.
#include "engine.h"

#include <algorithm>
#include <filesystem>

#include <sstream>

#include "skvq/batch.h"
#include "skvq/memory.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/model.h"
#include "skvq/perplexity.h"
#include "skvq/quant_config.h"
#include "skvq/run_store.h"
#include "skvq/session.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq::studio {

namespace {

std::vector<int32_t> tokenize_text(const ModelWeights& w, const std::string& tokenizer_path,
                                   const std::string& text_path, int64_t max_bytes) {
  auto tok = load_tokenizer_for(w.source_path, tokenizer_path,
                                static_cast<int32_t>(w.config.vocab_size));
  return tokenize_text_file(*tok, text_path, max_bytes);
}


}  // namespace

ModelInfo inspect_model(const std::string& path) {
  ModelWeights w = load_model(path);
  ModelInfo info;
  info.name = w.name;
  info.path = w.source_path;
  info.sha256 = w.sha256;
  info.description = w.config.describe() + ", " + std::to_string(w.num_parameters()) + " parameters";
  info.config = model_config_json(w.config);
  info.num_layers = w.config.num_hidden_layers;
  info.kv_channels = w.config.kv_channels();
  info.max_position_embeddings = w.config.max_position_embeddings;
  return info;
}

std::shared_ptr<const Calibration> run_calibration(const CalibrationRequest& req,
                                                   ProgressFn progress, CancelFlag cancel) {
  Model model(load_model(req.model_path));
  const auto tokens = tokenize_text(model.weights(), req.tokenizer_path, req.text_path,
                                    req.max_text_bytes);
  throw_if_cancelled(cancel);
  CalibrationOptions opt;
  opt.samples = req.samples;
  opt.seq_len = req.seq_len;
  opt.group_sizes = req.group_sizes;
  opt.seed = req.seed;
  auto calib = std::make_shared<Calibration>(calibrate(model, tokens, opt, progress, cancel));
  if (calib->text_path.empty()) calib->text_path = req.text_path;
  if (calib->text_sha256.empty()) calib->text_sha256 = sha256_hex(read_text(req.text_path, req.max_text_bytes));
  return calib;
}

std::shared_ptr<const Calibration> load_calibration(const std::string& path) {
  return std::make_shared<Calibration>(Calibration::load(path));
}

int64_t save_and_register_calibration(const Calibration& calib, const std::string& model_path,
                                      const std::string& out_path, const std::string& db,
                                      const std::string& tokenizer_path) {
  calib.save(out_path);
  const LoadedModel lm = load_model_for_eval(model_path, tokenizer_path);
  calib.check_model(lm.model->weights(), out_path);
  RunStore store(db);
  return register_calibration(store, register_model(store, lm.model->weights(), *lm.tokenizer), calib, out_path);
}

int64_t calibration_layers(const Calibration& calib) { return calib.num_layers; }
std::vector<int64_t> calibration_group_sizes(const Calibration& calib) { return calib.group_sizes; }

nlohmann::json calibration_channels_item(const Calibration& calib, int64_t layer,
                                         int64_t group_size) {
  if (layer < 0 || layer >= static_cast<int64_t>(calib.layers.size()))
    throw ConfigError("layer " + std::to_string(layer) + " is not in the calibration");
  const LayerCalibration& l = calib.layers[static_cast<size_t>(layer)];
  auto tensor = [&](const ChannelStats& s, const std::map<int64_t, ChannelClusters>& clusters) {
    nlohmann::json j{{"min", s.min}, {"max", s.max}, {"absmax", s.absmax}};
    const auto it = clusters.find(group_size);
    if (it != clusters.end()) {
      j["labels"] = it->second.labels;
      j["perm"] = it->second.perm;
      j["offsets"] = it->second.offsets;
    }
    return j;
  };
  return {{"layer", layer},
          {"group_size", group_size},
          {"k", tensor(l.k, l.k_clusters)},
          {"v", tensor(l.v, l.v_clusters)}};
}

int64_t run_perplexity(const PplRequest& req, const std::string& db, ProgressFn progress,
                       CancelFlag cancel) {
  PplJob job;
  job.model = req.model_path;
  job.tokenizer = req.tokenizer_path;
  job.calibration = req.calibration_path;
  job.text = req.text_path;
  job.max_bytes = req.max_bytes;
  job.skip_bytes = req.skip_bytes;
  job.options.protocol = parse_protocol(req.protocol);
  job.options.ctx_len = req.ctx_len;
  job.options.max_chunks = req.max_chunks;
  job.options.keep_window = req.keep_window;
  job.options.full_prefill = req.full_prefill;
  job.configs = {req.config};
  RunStore store(db);
  std::ostringstream log;
  JobProgressFn report;
  if (progress)
    report = [progress](const std::string&, int64_t, int64_t, int64_t done, int64_t total) {
      progress(done, total);
    };
  const auto runs = run_ppl_job(job, store, log, report, cancel);
  if (runs.empty()) throw ConfigError(req.config + ": the evaluation stored no run");
  return runs.back().id;
}

std::pair<double, double> config_bits(const std::string& config) {
  const QuantConfig c = QuantConfig::parse(config);
  return {stored_bits_per_element(c, true), stored_bits_per_element(c, false)};
}

ModelConfig model_config_from_json(const nlohmann::json& j) {
  ModelConfig c;
  c.hidden_size = j.value("hidden_size", int64_t{0});
  c.intermediate_size = j.value("intermediate_size", int64_t{0});
  c.num_hidden_layers = j.value("num_hidden_layers", int64_t{0});
  c.num_attention_heads = j.value("num_attention_heads", int64_t{0});
  c.num_key_value_heads = j.value("num_key_value_heads", c.num_attention_heads);
  c.head_dim = j.value("head_dim", c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0);
  c.vocab_size = j.value("vocab_size", int64_t{0});
  c.max_position_embeddings = j.value("max_position_embeddings", int64_t{0});
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);
  return c;
}

std::vector<double> kv_cache_bytes(const nlohmann::json& model_config, const std::string& config,
                                   const std::vector<int64_t>& lengths) {
  const ModelConfig model = model_config_from_json(model_config);
  const QuantConfig c = QuantConfig::parse(config);
  std::vector<double> out;
  for (int64_t n : lengths) out.push_back(static_cast<double>(skvq::kv_cache_bytes(model, c, n)));
  return out;
}

int run_batch(const std::string& job_path, const std::string& db, std::ostream& log,
              CancelFlag cancel) {
  run_batch_file(job_path, db, log, nullptr, cancel);
  return 0;
}

}  // namespace skvq::studio
