// skvq analyze: attention locality and quantization error of one text sample (stored as run items).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "list_options.h"
#include "skvq/session.h"
#include "progress.h"
#include "skvq/analyze.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/eval_inputs.h"
#include "skvq/model.h"
#include "skvq/needle.h"
#include "skvq/run_store.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq::cli {

void add_analyze_command(CLI::App& app) {
  struct Opts {
    std::string model, tokenizer, calib, text, quant, sinks = "1,5,10", windows = "16,32,64,128";
    int64_t max_tokens = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("analyze", "attention locality (sinks, windows, distance bins) and quantization error of one text");
  cmd->add_option("--model", o->model, "llama2.c .bin file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file (default: found beside the model)");
  cmd->add_option("--text", o->text, "text file; its first --max-tokens tokens are analyzed")->required();
  cmd->add_option("--max-tokens", o->max_tokens, "tokens analyzed, BOS included (0 = the model's max_position_embeddings)")->capture_default_str();
  cmd->add_option("--calib", o->calib, "calibration file (default: statistics of the text itself)");
  cmd->add_option("--quant", o->quant, "configuration for the error analysis (default k2-v2-g<g>-reorder-clip-sink5)");
  cmd->add_option("--sinks", o->sinks, "sink sizes S, comma-separated")->capture_default_str();
  cmd->add_option("--windows", o->windows, "window sizes W, comma-separated")->capture_default_str();
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->callback([o] {
    auto cancel = install_cancel_handler();
    ModelWeights w = load_model(o->model, resolve_model_dtype(globals().dtype, o->model));
    auto tok = load_tokenizer_for(o->model, o->tokenizer, static_cast<int32_t>(w.config.vocab_size));
    RunStore store(globals().db);
    const int64_t model_id = register_model(store, w, *tok);
    std::optional<Calibration> calib;
    std::optional<int64_t> calib_id;
    if (!o->calib.empty()) {
      calib = Calibration::load(o->calib);
      calib->check_model(w, o->calib);
      calib_id = register_calibration(store, model_id, *calib, o->calib);
    }
    const int64_t limit = o->max_tokens > 0 ? o->max_tokens : w.config.max_position_embeddings;
    const std::vector<int32_t> tokens = leading_text_tokens(*tok, o->text, limit);
    const QuantConfig config = o->quant.empty() ? default_analyze_config(w.config.kv_channels(), calib ? &*calib : nullptr)
                                                : QuantConfig::parse(o->quant);
    AnalyzeOptions opt;
    opt.sinks = parse_list<int64_t>(o->sinks, "--sinks");
    opt.windows = parse_list<int64_t>(o->windows, "--windows");
    opt.progress = [](int64_t d, int64_t t) { draw_progress("analyze", d, t, "steps"); };
    Model model(std::move(w));
    auto r = run_analyze(model, tokens, o->text, config, calib ? &*calib : nullptr, store, model_id, calib_id, opt,
                         cancel);
    end_progress();
    if (o->json) {
      std::cout << nlohmann::json({{"run_id", r.run_id}, {"reused", r.reused}, {"config", config.to_string()},
                                   {"tokens", static_cast<int64_t>(tokens.size())}, {"metrics", r.metrics}})
                       .dump(2)
                << "\n";
    } else {
      std::printf("analyze run %lld%s: %lld tokens, config %s\n", static_cast<long long>(r.run_id),
                  r.reused ? " (stored)" : "", static_cast<long long>(tokens.size()), config.to_string().c_str());
      std::printf("%s\n", r.metrics.dump(2).c_str());
    }
  });
}

}  // namespace skvq::cli
