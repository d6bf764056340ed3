// skvq ppl: perplexity of the unquantized model and of KV-cache configurations.
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "progress.h"
#include "skvq/batch.h"
#include "skvq/error.h"

namespace skvq::cli {

void add_ppl_command(CLI::App& app) {
  struct Opts {
    PplJob job;
    bool json = false, rerun = false;
    std::string protocol = "reference";
  };
  auto o = std::make_shared<Opts>();
  o->job.configs.clear();
  auto* cmd = app.add_subcommand("ppl", "perplexity by the reference protocol (skvq-method.md section 6); every run is stored");
  cmd->add_option("--model", o->job.model, "llama2.c .bin file, GGUF file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", o->job.tokenizer, "tokenizer file (default: found beside the model)");
  cmd->add_option("--text", o->job.text, "evaluation text file")->required();
  cmd->add_option("--ctx-len", o->job.options.ctx_len, "L: tokens per chunk")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 30));
  cmd->add_option("--max-bytes", o->job.max_bytes, "read at most this many bytes of the text (0 = all)")->capture_default_str()->check(kAtLeastZero);
  cmd->add_option("--skip-bytes", o->job.skip_bytes, "start after this many bytes of the text (e.g. past the calibration part)")->capture_default_str()->check(kAtLeastZero);
  cmd->add_option("--max-chunks", o->job.options.max_chunks, "evaluate at most this many chunks (0 = all)")->capture_default_str()->check(kAtLeastZero);
  cmd->add_option("--batch", o->job.options.batch, "chunks per forward pass (speed; results equal up to float rounding)")->capture_default_str()->check(kAtLeastOne);
  cmd->add_option("--quant", o->job.configs, "configurations (default: fp16 only); fp16 is always evaluated first");
  cmd->add_option("--calib", o->job.calibration, "calibration file (for reorder/smooth)");
  cmd->add_option("--device", o->job.device, "cpu or cuda")->capture_default_str();
  cmd->add_flag("--keep-window", o->job.options.keep_window, "use the configurations' window (protocol: W=0)");
  cmd->add_flag("--full-prefill", o->job.options.full_prefill, "attention reads exact K/V (protocol: off)");
  cmd->add_flag("--fake-quant", o->job.options.fake_quant,
                "fake-quantization cache (float32 storage, the checking path) instead of packed low-bit storage");
  cmd->add_option("--protocol", o->protocol,
                  "reference (skvq-method.md section 6: all L-1 predictions per chunk) or llama.cpp "
                  "(llama-perplexity: BOS starts each chunk, only its second half is scored)")
      ->capture_default_str()->check(CLI::IsMember({"reference", "llama.cpp"}));
  cmd->add_flag("--rerun", o->rerun, "evaluate again even when the run is stored");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->callback([o] {
    auto cancel = install_cancel_handler();
    PplJob job = o->job;
    job.dtype = globals().dtype;
    job.options.protocol = parse_protocol(o->protocol);
    std::vector<std::string> configs{"fp16"};
    for (const auto& c : job.configs)
      if (QuantConfig::parse(c).to_string() != "fp16") configs.push_back(c);
    job.configs = configs;
    job.skip_existing = !o->rerun;
    RunStore store(globals().db);
    std::ostringstream quiet;
    std::ostream& log = o->json ? static_cast<std::ostream&>(quiet) : std::cerr;
    auto runs = run_ppl_job(job, store, log,
                            [](const std::string& c, int64_t i, int64_t n, int64_t done, int64_t total) {
                              draw_progress("[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + c, done, total, "chunks");
                            },
                            cancel);
    end_progress();
    if (o->json) {
      nlohmann::json out = {{"model", job.model}, {"text", job.text}, {"ctx_len", job.options.ctx_len},
                          {"protocol", o->protocol}, {"db", globals().db}};
      out["configs"] = nlohmann::json::array();
      for (const auto& r : runs) {
        const auto& m = r.metrics;
        out["configs"].push_back({{"config", r.config}, {"ppl", m.value("ppl", 0.0)}, {"delta_ppl", m.value("delta_ppl", 0.0)},
                                  {"bits_k", m.value("bits_k", 16.0)}, {"bits_v", m.value("bits_v", 16.0)},
                                  {"kv_bytes_per_token", m.value("kv_bytes_per_token", 0.0)}, {"tokens", m.value("tokens", int64_t{0})},
                                  {"wall_seconds", m.value("wall_seconds", 0.0)}, {"run_id", r.id}});
      }
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << format_ppl_table(runs);
    }
  });
}

}  // namespace skvq::cli
