// Benchmark: tokens per second of the perplexity run (skvq-method.md section 6) on the demo model,
// against the reference C implementation's figure on this machine kind (llama2.c run.c, one core,
// ~2.6K tokens/s: 767 chunks of 512 tokens in ~150 s). Prints a table; asserts nothing.
//   skvq-bench-ppl [--max-chunks N] [--threads 1,2] [--quant CONFIG]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "skvq/blas_select.h"
#include "skvq/common.h"
#include "skvq/perplexity.h"
#include "skvq/session.h"

using namespace skvq;

int main(int argc, char** argv) {
  skvq::select_blas_kernels(argv);
  int64_t max_chunks = 0;
  std::string threads_arg = "1," + std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  std::string quant = "fp16";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--max-chunks")) max_chunks = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads_arg = argv[i + 1];
    else if (!std::strcmp(argv[i], "--quant")) quant = argv[i + 1];
  }
  const double reference_tokens_per_second = 2600.0;
  try {
    LoadedModel lm = load_model_for_eval(data_path("models/stories260K/stories260K.bin"));
    const auto tokens = tokenize_text_file(*lm.tokenizer, data_path("text/tinystories/tinystories_val.txt"));
    const QuantConfig qc = QuantConfig::parse(quant);
    PerplexityOptions opt;
    opt.ctx_len = 512;
    opt.max_chunks = max_chunks;
    std::printf("perplexity run, stories260K, TinyStories validation, L=512, %s\n", qc.to_string().c_str());
    std::printf("%8s %8s %10s %10s %12s %14s %10s\n", "threads", "chunks", "tokens", "seconds", "tokens/s", "vs reference", "PPL");
    std::stringstream ss(threads_arg);
    for (std::string t; std::getline(ss, t, ',');) {
      set_threads(std::atoi(t.c_str()));
      auto r = evaluate_perplexity(*lm.model, tokens, qc, KVLayouts::build(qc, lm.model->config(), nullptr), opt);
      const double tps = r.tokens_evaluated / r.seconds;
      std::printf("%8s %8lld %10lld %10.2f %12.0f %13.1fx %10.4f\n", t.c_str(), static_cast<long long>(r.chunks),
                  static_cast<long long>(r.tokens_evaluated), r.seconds, tps, tps / reference_tokens_per_second, r.ppl);
    }
    std::printf("reference: llama2.c run.c, one core, %.0f tokens/s\n", reference_tokens_per_second);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "skvq-bench-ppl: %s\n", e.what());
    return 1;
  }
  return 0;
}
