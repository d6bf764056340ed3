// skvq generate: text generation with an optional quantized KV cache.
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "progress.h"
#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/chat_template.h"
#include "skvq/error.h"
#include "skvq/generate.h"
#include "skvq/kv_cache.h"
#include "skvq/packed_cache.h"
#include "skvq/session.h"

namespace skvq::cli {

void add_generate_command(CLI::App& app) {
  struct Opts {
    std::string model, tokenizer, prompt = "Once upon a time", quant = "fp16", calib, device = "cpu";
    std::string chat_template = "none", system;
    bool chat = false;
    int64_t max_new = 256;
    float temperature = 0.0f, top_p = 1.0f;
    uint64_t seed = 42;
    bool full_prefill = true, stats = false, fake_quant = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "generate text (greedy with --temperature 0)");
  cmd->add_option("--model", o->model, "llama2.c .bin file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file (default: found beside the model)");
  cmd->add_option("--prompt", o->prompt, "prompt text")->capture_default_str();
  cmd->add_option("--chat-template", o->chat_template,
                  "format the prompt as one user message: none (plain text), auto (the model's template), "
                  "chatml, llama2, llama3, mistral")
      ->capture_default_str();
  cmd->add_flag("--chat", o->chat, "same as --chat-template auto");
  cmd->add_option("--system", o->system, "system message with a chat template (default: the template's own, if any)");
  cmd->add_option("--max-new-tokens", o->max_new, "tokens to generate")->capture_default_str()->check(kAtLeastOne);
  cmd->add_option("--temperature", o->temperature, "0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", o->top_p, "nucleus sampling threshold in (0, 1]")->capture_default_str()->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--seed", o->seed, "sampling seed")->capture_default_str();
  cmd->add_option("--quant", o->quant, "KV-cache configuration, e.g. k2-v2-g8-w32-reorder-clip-sink5-fp8")->capture_default_str();
  cmd->add_option("--calib", o->calib, "calibration file (for reorder/smooth)");
  cmd->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  cmd->add_flag("--stats", o->stats, "print timing and KV-cache bytes on stderr");
  cmd->add_flag("--fake-quant", o->fake_quant,
                "use the fake-quantization cache (float32 storage) even where the packed cache "
                "supports the configuration (SKVQ/RTN on the CPU)");
  cmd->callback([o] {
    auto cancel = install_cancel_handler();
    if (o->chat && o->chat_template == "none") o->chat_template = "auto";
    parse_chat_template_option(o->chat_template, "");  // an unknown name fails before the model loads
    LoadedModel lm = load_model_for_eval(o->model, o->tokenizer, o->device, globals().dtype);
    const Model& model = *lm.model;
    QuantConfig qc = QuantConfig::parse(o->quant);
    std::unique_ptr<Calibration> cal;
    if (qc.needs_calibration()) {
      if (o->calib.empty()) throw ConfigError("--quant " + o->quant + " needs --calib FILE");
      cal = std::make_unique<Calibration>(Calibration::load(o->calib));
      cal->check_model(model.weights(), o->calib);
    }
    // Packed low-bit storage by default where supported (SKVQ/RTN; the packed cache lives in CPU
    // memory, so only with the model on the CPU); KIVI, fp16 and --fake-quant use fake quantization.
    const bool packed = !o->fake_quant && model.device().is_cpu() && packed_cache_supported(qc);
    auto cache_ptr = make_kv_cache(model.config(), qc, KVLayouts::build(qc, model.config(), cal.get()), 1,
                                   o->full_prefill, packed);
    KVCache& cache = *cache_ptr;
    SamplingParams sp;
    sp.max_new_tokens = o->max_new;
    sp.temperature = o->temperature;
    sp.top_p = o->top_p;
    sp.seed = o->seed;
    const std::string& tmpl = lm.tokenizer->chat_template();
    const ChatFamily chat = parse_chat_template_option(o->chat_template, tmpl);
    if (o->chat_template == "auto" && chat == ChatFamily::None)
      std::cerr << "warning: " << (tmpl.empty() ? "the model has no chat template" : "the model's chat template is not a known family")
                << "; the prompt is plain text\n";
    const auto prompt_tokens = lm.tokenizer->encode(apply_chat_template(chat, tmpl, o->system, o->prompt), true);
    const int64_t trained = model.config().max_position_embeddings;
    if (trained > 0 && static_cast<int64_t>(prompt_tokens.size()) + o->max_new > trained)
      std::cerr << "warning: prompt (" << prompt_tokens.size() << " tokens) + " << o->max_new
                << " new tokens exceed the model's trained context of " << trained << " tokens\n";
    std::string prompt_text;
    // The prompt as the model sees it, BOS left out (SmolLM2 and Qwen2 have none: start at 0).
    const int32_t bos = lm.tokenizer->bos_id();
    const bool has_bos = !prompt_tokens.empty() && bos >= 0 && prompt_tokens[0] == bos && lm.tokenizer->adds_bos();
    int32_t prev = has_bos ? bos : -1;
    for (size_t i = has_bos ? 1 : 0; i < prompt_tokens.size(); ++i) {
      prompt_text += lm.tokenizer->decode_token(prev, prompt_tokens[i]);
      prev = prompt_tokens[i];
    }
    std::cout << prompt_text << std::flush;
    auto r = generate_tokens(model, *lm.tokenizer, prompt_tokens, sp, cache,
                             [](const std::string& piece) { std::cout << piece << std::flush; }, cancel);
    std::cout << std::endl;
    if (o->stats) {
      const double n = static_cast<double>(r.tokens.size());
      std::fprintf(stderr, "prompt %zu tokens, generated %zu tokens, prefill %.3f s, decode %.1f tokens/s, KV cache %lld bytes (%s, %s)\n",
                   r.prompt_tokens.size(), r.tokens.size(), r.prefill_seconds, n / std::max(r.decode_seconds, 1e-9),
                   static_cast<long long>(cache.stored_bytes()), qc.to_string().c_str(),
                   packed ? "packed" : "fake-quant accounting");
      if (const auto* pc = dynamic_cast<const PackedKVCache*>(&cache)) {
        // Measured: the bytes the packed blocks hold for the tokens in the cache (codes +
        // scale/zero), the full-precision sink/window tokens counted at float16 as memory.h does,
        // and what is really allocated (float32 sink/window buffers, whole blocks).
        std::fprintf(stderr, "KV cache measured: %lld tokens, %lld packed bytes + %lld sink/window bytes (float16) = %lld bytes; allocated %lld bytes\n",
                     static_cast<long long>(pc->length()), static_cast<long long>(pc->packed_bytes()),
                     static_cast<long long>(pc->accounted_bytes() - pc->packed_bytes()),
                     static_cast<long long>(pc->accounted_bytes()), static_cast<long long>(pc->allocated_bytes()));
      }
    }
  });
}

}  // namespace skvq::cli
