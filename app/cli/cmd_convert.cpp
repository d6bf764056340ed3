// skvq convert: a llama2.c checkpoint (+ its tokenizer) -> a Hugging Face model directory
// (config.json, model.safetensors float32, tokenizer.json, tokenizer_config.json).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.h"
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
  cmd->add_option("--out", o->out, "output directory (created; files in it are overwritten)")->required();
  cmd->callback([o] {
    ModelWeights w = load_model(o->model, resolve_model_dtype(globals().dtype, o->model));
    const int64_t vocab = w.config.vocab_size;
    std::printf("model %s: %s, %lld parameters\n", o->model.c_str(), w.config.describe().c_str(),
                static_cast<long long>(w.num_parameters()));
    save_hf_model(w, o->out);
    const fs::path out(o->out);
    std::printf("converted to %s:\n", o->out.c_str());
    print_file(out / "config.json");
    print_file(out / "model.safetensors");

    std::string tok_path = o->tokenizer;
    std::error_code ec;
    if (tok_path.empty()) {
      if (fs::is_directory(o->model, ec)) {
        fs::path j = fs::path(o->model) / "tokenizer.json";
        if (fs::is_regular_file(j, ec)) tok_path = j.string();
      } else {
        tok_path = find_llama2c_tokenizer(o->model, vocab);
      }
    }
    if (tok_path.empty()) {
      std::printf("  no tokenizer found beside %s; wrote the model only (pass --tokenizer)\n",
                  o->model.c_str());
      return;
    }
    if (!fs::is_regular_file(tok_path, ec)) throw FileError(tok_path, "tokenizer file not found");
    if (ends_with(tok_path, ".json")) {
      // already a tokenizer.json: copy it (and tokenizer_config.json beside it) unless in place
      const fs::path src(tok_path);
      const fs::path dst = out / "tokenizer.json";
      if (!fs::equivalent(src, dst, ec)) {
        fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
        if (ec) throw FileError(dst.string(), "cannot copy the tokenizer: " + ec.message());
        const fs::path cfg = src.parent_path() / "tokenizer_config.json";
        if (fs::is_regular_file(cfg, ec))
          fs::copy_file(cfg, out / "tokenizer_config.json", fs::copy_options::overwrite_existing, ec);
      }
      load_hf_tokenizer(dst.string());  // validates what was written
      print_file(dst);
      if (fs::exists(out / "tokenizer_config.json", ec)) print_file(out / "tokenizer_config.json");
      return;
    }
    auto ref = load_llama2c_tokenizer(tok_path, static_cast<int32_t>(vocab));
    convert_llama2c_tokenizer(tok_path, static_cast<int32_t>(vocab), o->out);
    print_file(out / "tokenizer.json");
    print_file(out / "tokenizer_config.json");
    // Check: the written tokenizer.json must tokenize a sample exactly as the llama2.c file does.
    auto hf = load_hf_tokenizer((out / "tokenizer.json").string());
    const std::string sample =
        "Once upon a time, there was a little girl named Lily.\nShe said: \"Let's go!\" caf\xC3\xA9 42";
    if (hf->encode(sample, true) != ref->encode(sample, true))
      throw FileError((out / "tokenizer.json").string(),
                      "converted tokenizer does not reproduce " + tok_path + " on a sample text");
    std::printf("tokenizer %s converted (%d tokens); sample text tokenizes identically\n",
                tok_path.c_str(), hf->vocab_size());
  });
}

}  // namespace skvq::cli
