// skvq convert: a llama2.c checkpoint (+ its tokenizer) -> a Hugging Face model directory
// (config.json, model.safetensors float32, tokenizer.json, tokenizer_config.json).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.h"
#include "staged_dir.h"
#include "skvq/session.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq::cli {
namespace {
namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The llama2.c tokenizer beside `model` (tok<vocab>.bin, tokenizer.bin), or "" if none.
std::string find_llama2c_tokenizer(const std::string& model, int64_t vocab) {
  fs::path dir = fs::path(model).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  for (const fs::path& p : {dir / ("tok" + std::to_string(vocab) + ".bin"), dir / "tokenizer.bin"})
    if (fs::is_regular_file(p, ec)) return p.string();
  return "";
}

void print_file(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  std::printf("  wrote %s (%lld bytes)\n", p.string().c_str(), ec ? -1LL : static_cast<long long>(size));
}

// The tokenizer to convert: --tokenizer, else tokenizer.json in a model folder, else the
// llama2.c tokenizer beside the model file; "" if none.
std::string tokenizer_source(const std::string& model, const std::string& given, int64_t vocab) {
  if (!given.empty()) return given;
  std::error_code ec;
  if (!fs::is_directory(model, ec)) return find_llama2c_tokenizer(model, vocab);
  const fs::path j = fs::path(model) / "tokenizer.json";
  return fs::is_regular_file(j, ec) ? j.string() : "";
}

// Writes tokenizer.json (and tokenizer_config.json) into `dir` from `tok_path` and checks it.
void write_tokenizer(const std::string& tok_path, int64_t vocab, const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(tok_path, ec)) throw FileError(tok_path, "tokenizer file not found");
  const fs::path dst = dir / "tokenizer.json";
  if (ends_with(tok_path, ".json")) {
    // already a tokenizer.json: copy it (and tokenizer_config.json beside it)
    const fs::path src(tok_path);
    fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
    if (ec) throw FileError(dst.string(), "cannot copy the tokenizer: " + ec.message());
    const fs::path cfg = src.parent_path() / "tokenizer_config.json";
    if (fs::is_regular_file(cfg, ec)) {
      fs::copy_file(cfg, dir / "tokenizer_config.json", fs::copy_options::overwrite_existing, ec);
      if (ec) throw FileError((dir / "tokenizer_config.json").string(), "cannot copy: " + ec.message());
    }
    load_hf_tokenizer(dst.string());  // validates what was written
    return;
  }
  auto ref = load_llama2c_tokenizer(tok_path, static_cast<int32_t>(vocab));
  convert_llama2c_tokenizer(tok_path, static_cast<int32_t>(vocab), dir.string());
  // Check: the written tokenizer.json must tokenize a sample exactly as the llama2.c file does.
  auto hf = load_hf_tokenizer(dst.string());
  const std::string sample =
      "Once upon a time, there was a little girl named Lily.\nShe said: \"Let's go!\" caf\xC3\xA9 42";
  if (hf->encode(sample, true) != ref->encode(sample, true))
    throw FileError(tok_path, "converted tokenizer does not reproduce it on a sample text");
  std::printf("tokenizer %s converted (%d tokens); sample text tokenizes identically\n", tok_path.c_str(),
              hf->vocab_size());
}

}  // namespace

void add_convert_command(CLI::App& app) {
  struct Opts {
    std::string model, tokenizer, out;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "convert", "convert a llama2.c checkpoint (and tokenizer) to a Hugging Face model directory");
  cmd->add_option("--model", o->model, "llama2.c .bin checkpoint (or a Hugging Face directory to re-save)")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer,
                  "llama2.c tokenizer file or tokenizer.json (default: tok<vocab>.bin or tokenizer.bin "
                  "beside the model)");
  cmd->add_option("--out", o->out,
                  "output directory (created; files in it are overwritten, only once all were written)")
      ->required();
  cmd->callback([o] {
    ModelWeights w = load_model(o->model, resolve_model_dtype(globals().dtype, o->model));
    const int64_t vocab = w.config.vocab_size;
    std::printf("model %s: %s, %lld parameters\n", o->model.c_str(), w.config.describe().c_str(),
                static_cast<long long>(w.num_parameters()));
    // Everything is written to a staging folder beside --out and moved into place at the end:
    // a full disk or a bad tokenizer leaves --out as it was.
    StagedDir staged(o->out);
    const std::string tok_path = tokenizer_source(o->model, o->tokenizer, vocab);
    try {
      save_hf_model(w, staged.path().string());
      if (!tok_path.empty()) write_tokenizer(tok_path, vocab, staged.path());
    } catch (const FileError& e) {  // name the file as it would have been in --out
      const std::string what = e.what();
      throw FileError(staged.final_name(e.path()), what.substr(std::min(what.size(), e.path().size() + 2)));
    }
    const auto files = staged.commit();
    std::printf("converted to %s:\n", o->out.c_str());
    for (const auto& f : files) print_file(f);
    if (tok_path.empty())
      std::printf("  no tokenizer found beside %s; wrote the model only (pass --tokenizer)\n", o->model.c_str());
  });
}

}  // namespace skvq::cli
