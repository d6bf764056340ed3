// skvq calibrate: per-channel K/V ranges and k-means channel groups (skvq-method.md section 3).
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "list_options.h"
#include "output_check.h"
#include "progress.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/run_store.h"
#include "skvq/common.h"
#include "skvq/session.h"
#include "skvq/tokenizer.h"

namespace skvq::cli {

void add_calibrate_command(CLI::App& app) {
  struct Opts {
    std::string model, tokenizer, text, out, device = "cpu";
    int64_t max_bytes = 0;
    CalibrationOptions opt;
    std::string group_sizes = "8,16,32";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("calibrate", "calibrate channel reordering for a model and save it");
  cmd->add_option("--model", o->model, "llama2.c .bin file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file (default: found beside the model)");
  cmd->add_option("--text", o->text, "calibration text")->required();
  cmd->add_option("--max-bytes", o->max_bytes, "read at most this many bytes of the text (0 = all)");
  cmd->add_option("--samples", o->opt.samples, "N samples")->capture_default_str()->check(kAtLeastOne);
  cmd->add_option("--seq-len", o->opt.seq_len, "L tokens per sample")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 30));
  cmd->add_option("--group-sizes", o->group_sizes, "comma-separated group sizes to cluster for")->capture_default_str();
  cmd->add_option("--seed", o->opt.seed, "seed for sample positions and k-means")->capture_default_str();
  cmd->add_option("--restarts", o->opt.kmeans_restarts, "k-means restarts")->capture_default_str()->check(kAtLeastOne);
  cmd->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--out", o->out, "calibration file to write (JSON)")->required();
  cmd->callback([o] {
    auto cancel = install_cancel_handler();
    o->opt.group_sizes = parse_list<int64_t>(o->group_sizes, "--group-sizes");
    check_output_file(o->out);  // fail before calibrating when the output cannot be written
    LoadedModel lm = load_model_for_eval(o->model, o->tokenizer, o->device, globals().dtype);
    if (o->opt.seq_len > lm.model->config().max_position_embeddings && lm.model->config().max_position_embeddings > 0)
      std::cerr << "warning: --seq-len " << o->opt.seq_len << " is beyond the model's trained context of "
                << lm.model->config().max_position_embeddings << " tokens\n";
    // Read once (tokens and the text's sha256 from the same bytes), only up to --max-bytes.
    const std::string text = read_text(o->text, o->max_bytes);
    if (text.empty()) throw FileError(o->text, "the text file is empty");
    std::cerr << "tokenizing " << o->text << " (" << text.size() << " bytes)\n";
    const auto tokens = lm.tokenizer->encode(text, /*add_bos=*/true);
    std::cerr << "calibrating " << lm.model->weights().name << " on " << o->text << " (" << tokens.size() << " tokens): "
              << o->opt.samples << " samples x " << o->opt.seq_len << " tokens\n";
    draw_progress("calibrate", 0, o->opt.samples + static_cast<int64_t>(o->opt.group_sizes.size()), "steps");
    Calibration cal = calibrate(*lm.model, tokens, o->opt,
                                [](int64_t d, int64_t t) { draw_progress("calibrate", d, t, "steps"); }, cancel);
    end_progress();
    cal.text_path = o->text;
    cal.text_sha256 = sha256_hex(text);
    cal.save(o->out);
    RunStore store(globals().db);
    const int64_t id = register_calibration(store, register_model(store, lm.model->weights(), *lm.tokenizer), cal, o->out);
    std::cout << "wrote " << o->out << " (" << cal.num_layers << " layers x " << cal.kv_channels
              << " K/V channels, group sizes " << o->group_sizes << "), calibration " << id << " in " << globals().db << "\n";
  });
}

}  // namespace skvq::cli
