// skvq needle: needle-in-a-haystack grid (skvq-method.md section 7); every cell is stored.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "output_check.h"
#include "list_options.h"
#include "skvq/session.h"
#include "progress.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/eval_inputs.h"
#include "skvq/model.h"
#include "skvq/needle.h"
#include "skvq/run_store.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq::cli {

void add_needle_command(CLI::App& app) {
  struct Opts {
    std::string model, tokenizer, calib, lengths, depths, haystack, export_path, spacing = "linear";
    std::vector<std::string> quant;
    int64_t min_len = 0, max_len = 0, len_steps = 0, depth_steps = 0, buffer = -1;
    double depth_min = 0, depth_max = 100, rope_scaling = 1.0;
    NeedleOptions opt;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("needle", "needle-in-a-haystack grid (skvq-method.md section 7); every cell is stored");
  cmd->add_option("--model", o->model, "llama2.c .bin file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file (default: found beside the model)");
  cmd->add_option("--calib", o->calib, "calibration file (for reorder/smooth configurations)");
  cmd->add_option("--quant", o->quant, "configurations (the unquantized reference always runs first)")->required();
  cmd->add_option("--lengths", o->lengths, "context lengths in tokens, comma-separated");
  cmd->add_option("--min-len", o->min_len, "smallest context length (with --max-len, --len-steps)");
  cmd->add_option("--max-len", o->max_len, "largest context length");
  cmd->add_option("--len-steps", o->len_steps, "number of context lengths, linearly spaced")->check(kAtLeastOne);
  cmd->add_option("--depths", o->depths, "depth percents, comma-separated");
  cmd->add_option("--depth-min", o->depth_min, "smallest depth percent")->capture_default_str();
  cmd->add_option("--depth-max", o->depth_max, "largest depth percent")->capture_default_str();
  cmd->add_option("--depth-steps", o->depth_steps, "number of depths (default 5 when --depths is not given)")->check(kAtLeastOne);
  cmd->add_option("--depth-spacing", o->spacing, "linear or sigmoid")->capture_default_str();
  cmd->add_option("--haystack", o->opt.haystack_dir, "directory of .txt essays (default: <data>/text/needle/PaulGrahamEssays)");
  cmd->add_option("--needle", o->opt.needle, "the needle sentence");
  cmd->add_option("--question", o->opt.question, "the retrieval question");
  cmd->add_option("--key-phrase", o->opt.key_phrase, "phrase whose presence gives the 'contains' score");
  cmd->add_option("--template", o->opt.prompt_template, "prompt template with {context} and {question}");
  cmd->add_option("--chat-template", o->opt.chat_template,
                  "chat template around the prompt: auto (the model's, when it has one), none, chatml, llama2, llama3, mistral")
      ->capture_default_str();
  cmd->add_option("--buffer", o->buffer, "tokens left for template and answer (default: template + question + answer tokens, at least min(200, max_position_embeddings/8))")->check(kAtLeastZero);
  cmd->add_option("--max-new-tokens", o->opt.max_new_tokens, "answer length limit")->capture_default_str()->check(kAtLeastOne);
  cmd->add_option("--rope-scaling", o->rope_scaling, "linear RoPE scaling factor for contexts past the trained length")->capture_default_str();
  cmd->add_option("--export", o->export_path, "write the cells in the common harness JSON layout");
  cmd->add_flag("--fake-quant", o->opt.fake_quant,
                "fake-quantization cache (float32 storage, the checking path) instead of packed low-bit storage");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->callback([o] {
    auto cancel = install_cancel_handler();
    parse_chat_template_option(o->opt.chat_template, "");  // an unknown name fails before the model loads
    if (!o->export_path.empty()) check_output_file(o->export_path);  // before computing anything
    ModelWeights w = load_model(o->model, resolve_model_dtype(globals().dtype, o->model));
    if (o->rope_scaling <= 0) throw ConfigError("--rope-scaling must be positive");
    w.config.rope_scaling_factor = o->rope_scaling;
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
    const ModelConfig mc = w.config;
    Model model(std::move(w));

    NeedleOptions opt = o->opt;
    const ChatFamily chat = opt.chat_family(*tok);
    if (opt.chat_template == "auto" && chat == ChatFamily::None && !tok->chat_template().empty())
      std::cerr << "warning: the model's chat template is not a known family; prompts are plain text "
                   "(--chat-template NAME to choose one)\n";
    if (opt.haystack_dir.empty()) opt.haystack_dir = data_path("text/needle/PaulGrahamEssays");
    opt.buffer_tokens = o->buffer >= 0 ? o->buffer : default_needle_buffer(opt, *tok, mc.max_position_embeddings);
    if (!o->lengths.empty()) {
      opt.context_lengths = parse_list<int64_t>(o->lengths, "--lengths");
    } else if (o->min_len > 0 && o->max_len > 0 && o->len_steps > 0) {
      opt.context_lengths = linear_lengths(o->min_len, o->max_len, o->len_steps);
    } else {
      throw ConfigError("needle: give --lengths or --min-len, --max-len and --len-steps");
    }
    if (!o->depths.empty()) {
      opt.depth_percents = parse_list<double>(o->depths, "--depths");
    } else {
      opt.depth_percents = depth_percent_grid(o->depth_min, o->depth_max,
                                              o->depth_steps > 0 ? o->depth_steps : 5, o->spacing);
    }
    std::vector<QuantConfig> configs;
    for (const auto& q : o->quant) configs.push_back(QuantConfig::parse(q));

    auto runs = run_needle(model, *tok, configs, calib ? &*calib : nullptr, store, model_id, calib_id, opt,
                           [](int64_t done, int64_t total) { draw_progress("needle", done, total, "cells"); },
                           cancel);
    end_progress();
    std::vector<int64_t> ids;
    for (const auto& r : runs) ids.push_back(r.run_id);
    if (!o->export_path.empty()) {
      std::ofstream out(o->export_path);
      if (!out) throw FileError(o->export_path, "cannot be written");
      out << needle_export_json(store, ids, model.weights().name).dump(2) << "\n";
      if (!out) throw FileError(o->export_path, "write failed");
    }
    if (o->json) {
      nlohmann::json j = {{"model", o->model}, {"db", globals().db}, {"params", opt.params(chat)}};
      j["configs"] = nlohmann::json::array();
      for (const auto& r : runs)
        j["configs"].push_back({{"config", r.config}, {"run_id", r.run_id}, {"cells_computed", r.cells_computed},
                                {"cells_skipped", r.cells_skipped}, {"metrics", r.metrics}});
      std::cout << j.dump(2) << "\n";
    } else {
      std::printf("%-40s %6s %8s %8s %8s %8s %6s\n", "config", "cells", "rouge1", "rougeL", "contains", "agree", "run");
      for (const auto& r : runs)
        std::printf("%-40s %6lld %8.3f %8.3f %8.3f %8.3f %6lld\n", r.config.c_str(),
                    static_cast<long long>(r.metrics.value("cells", int64_t{0})), r.metrics.value("mean_rouge1_f", 0.0),
                    r.metrics.value("mean_rougeL_f", 0.0), r.metrics.value("mean_contains", 0.0),
                    r.metrics.value("mean_agreement_rougeL", 0.0), static_cast<long long>(r.run_id));
    }
  });
}

}  // namespace skvq::cli
