// skvq longbench: LongBench / L-Eval style tasks (skvq-method.md section 8); every sample is stored.
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "skvq/session.h"
#include "progress.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/eval_inputs.h"
#include "skvq/longbench.h"
#include "skvq/model.h"
#include "skvq/needle.h"
#include "skvq/run_store.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq::cli {

void add_longbench_command(CLI::App& app) {
  struct Opts {
    std::string model, tokenizer, calib, tasks_file;
    std::vector<std::string> data, quant{"fp16"};
    LongBenchOptions opt;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("longbench", "LongBench / L-Eval style tasks (skvq-method.md section 8); every sample is stored");
  cmd->add_option("--model", o->model, "llama2.c .bin file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file (default: found beside the model)");
  cmd->add_option("--calib", o->calib, "calibration file (for reorder/smooth configurations)");
  cmd->add_option("--data", o->data, "LongBench or L-Eval JSONL files")->required();
  cmd->add_option("--tasks-file", o->tasks_file, "JSON task table added to (and overriding) the built-in one");
  cmd->add_option("--max-samples", o->opt.max_samples, "samples per task (0 = all)")->capture_default_str();
  cmd->add_option("--max-prompt-tokens", o->opt.max_prompt_tokens, "prompt + answer token limit (0 = the model's max_position_embeddings)")->capture_default_str();
  cmd->add_option("--chat-template", o->opt.chat_template,
                  "chat template around each prompt: auto (the model's, when it has one), none, chatml, llama2, llama3, mistral")
      ->capture_default_str();
  cmd->add_option("--quant", o->quant, "configurations")->capture_default_str();
  cmd->add_flag("--fake-quant", o->opt.fake_quant,
                "fake-quantization cache (float32 storage, the checking path) instead of packed low-bit storage");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->callback([o] {
    auto cancel = install_cancel_handler();
    parse_chat_template_option(o->opt.chat_template, "");  // an unknown name fails before any work
    const TaskTable tasks = task_table_with(o->tasks_file);
    const EvalData data = load_eval_files(o->data);
    const int64_t skipped = data.skipped_empty_lines;
    if (skipped > 0) std::fprintf(stderr, "skvq longbench: skipped %lld empty lines\n", static_cast<long long>(skipped));
    std::vector<QuantConfig> configs;
    for (const auto& q : o->quant) configs.push_back(QuantConfig::parse(q));

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
    Model model(std::move(w));
    auto runs = run_longbench(model, *tok, configs, calib ? &*calib : nullptr, store, model_id, calib_id, data.samples,
                              tasks, data.data_path, data.data_sha256, o->opt,
                              [](int64_t done, int64_t total) { draw_progress("longbench", done, total, "samples"); },
                              cancel);
    end_progress();
    if (o->json) {
      nlohmann::json j = {{"model", o->model}, {"db", globals().db}, {"skipped_empty_lines", skipped}};
      j["configs"] = nlohmann::json::array();
      for (const auto& r : runs)
        j["configs"].push_back({{"config", r.config}, {"run_id", r.run_id}, {"computed", r.computed},
                                {"skipped", r.skipped}, {"metrics", r.metrics}});
      std::cout << j.dump(2) << "\n";
    } else {
      for (const auto& r : runs) {
        std::printf("%s (run %lld): average %.2f\n", r.config.c_str(), static_cast<long long>(r.run_id),
                    r.metrics.value("average", 0.0));
        for (auto it = r.metrics["tasks"].begin(); it != r.metrics["tasks"].end(); ++it)
          std::printf("  %-28s %-15s %8.2f  (%lld samples)\n", it.key().c_str(),
                      it.value().value("metric", std::string()).c_str(), it.value().value("score", 0.0),
                      static_cast<long long>(it.value().value("samples", int64_t{0})));
      }
    }
  });
}

}  // namespace skvq::cli
