#pragma once
// Needle-in-a-haystack (skvq-method.md section 7): a depth x length grid of greedy answers
// under any KV-cache configuration, scored per cell and stored per cell in the run store
// (docs/run-items.md, kind "needle"). Also the run-store helpers the evaluation commands share.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "skvq/chat_template.h"
#include "skvq/common.h"
#include "skvq/quant_config.h"

namespace skvq {

class Model;
class Tokenizer;
class RunStore;
struct Calibration;
struct ModelWeights;

/// The needle, question and key phrase of the standard test (Paul Graham essays).
inline constexpr const char* kDefaultNeedle =
    "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny "
    "day.";
inline constexpr const char* kDefaultNeedleQuestion = "What is the best thing to do in San Francisco?";
inline constexpr const char* kDefaultNeedleKeyPhrase = "eat a sandwich and sit in Dolores Park";
/// Prompt around the haystack; "{context}" and "{question}" are replaced.
inline constexpr const char* kDefaultNeedleTemplate =
    "You are a helpful AI bot that answers questions for a user. Keep your response short and "
    "direct.\n\n{context}\n\nQuestion: {question} Don't give information outside the document "
    "or repeat your findings.\nAnswer:";

/// Settings of one needle grid. Lengths are in tokens of the model's tokenizer.
struct NeedleOptions {
  std::string haystack_dir;                      ///< directory of *.txt essays
  std::string needle = kDefaultNeedle;
  std::string question = kDefaultNeedleQuestion;
  std::string key_phrase = kDefaultNeedleKeyPhrase;  ///< "contains" score: phrase in the answer
  std::string prompt_template = kDefaultNeedleTemplate;
  std::vector<int64_t> context_lengths;          ///< tokens, each > buffer_tokens + needle tokens
  std::vector<double> depth_percents;            ///< each in [0, 100]
  int64_t buffer_tokens = 200;  ///< haystack + needle = context_length - buffer_tokens tokens
  int64_t max_new_tokens = 32;  ///< greedy answer length limit
  /// Chat template around the filled prompt (parse_chat_template_option): "auto" = the model's
  /// template when it has a recognised one, plain text otherwise; "none"; or a family name.
  std::string chat_template = "auto";
  /// KV storage: false = packed low-bit storage where the method has a packed codec and the
  /// model is on the CPU (decode steps attend over the packed bytes); true = fake quantization.
  bool fake_quant = false;

  /// Throws ConfigError for an empty grid, a depth outside 0..100, a length <= buffer_tokens,
  /// negative buffer, max_new_tokens < 1, a template without "{context}" or an unknown
  /// chat template name.
  void validate() const;
  /// The run's params JSON: {"context_lengths", "depth_percents", "needle", "question",
  /// "max_new_tokens", "haystack_dir"} plus "key_phrase", "template", "buffer_tokens", and
  /// "chat_template" (the family name, e.g. "chatml") when `chat` is not None (left out for
  /// plain prompts, so runs stored before chat templates existed still resume), and
  /// "kv_storage": "fake-quant" only with fake_quant.
  nlohmann::json params(ChatFamily chat = ChatFamily::None) const;
  /// The chat family these options give with `tok`: parse_chat_template_option(chat_template,
  /// tok.chat_template()). Throws ConfigError for an unknown name.
  ChatFamily chat_family(const Tokenizer& tok) const;
};

/// The essays of `dir` concatenated in sorted file-name order (only regular files ending in
/// ".txt"). Throws FileError when the directory is missing or holds no .txt file.
std::string load_haystack(const std::string& dir);

/// np.round(np.linspace(min, max, steps)) as integers (steps = 1 gives {min}). Throws ConfigError
/// when steps < 1, min < 1 or max < min.
std::vector<int64_t> linear_lengths(int64_t min, int64_t max, int64_t steps);

/// Depth percents from min to max in `steps` points. "linear": linspace rounded to whole
/// percents; "sigmoid": the harness's logistic spacing, x = linspace(min, max, steps) mapped to
/// round(100 / (1 + exp(-0.1 (x - 50))), 3) with 0 and 100 kept exactly (denser near the ends).
/// Throws ConfigError for steps < 1, bounds outside 0..100, max < min or another spacing.
std::vector<double> depth_percent_grid(double min, double max, int64_t steps,
                                       const std::string& spacing);

/// Where the needle goes in a context of `pieces` (the decoded text of each token): start at
/// floor(n * depth / 100) (n for depth 100) and move back until the token before the position
/// ends a sentence (its text, trailing whitespace removed, ends with '.') or the position is 0.
/// Throws ConfigError for a depth outside 0..100.
int64_t needle_insertion_point(const std::vector<std::string>& pieces, double depth_percent);

/// One cell's context: haystack tokens trimmed to context_length - buffer - needle tokens with
/// the needle inserted at `needle_pos`.
struct NeedleContext {
  std::vector<int32_t> tokens;  ///< haystack with the needle (context_length - buffer tokens)
  int64_t needle_pos = 0;       ///< index of the needle's first token in `tokens`
  int64_t needle_len = 0;       ///< tokens of the needle
};

/// Builds one cell's context from the tokenized haystack (`haystack_tokens` must hold at least
/// context_length - buffer tokens) and the tokenized needle, as the reference harness does.
/// Throws ConfigError when the needle does not fit or the haystack is too short.
NeedleContext build_needle_context(const Tokenizer& tok, const std::vector<int32_t>& haystack_tokens,
                                   const std::vector<int32_t>& needle_tokens,
                                   int64_t context_length, int64_t buffer_tokens,
                                   double depth_percent);

/// The prompt text: `tmpl` with "{context}" and "{question}" replaced (every occurrence).
std::string fill_needle_template(const std::string& tmpl, const std::string& context,
                                 const std::string& question);

/// A cell's whole prompt text: fill_needle_template(opt.prompt_template, context, opt.question)
/// as the user message of the chat template opt.chat_family(tok) (no system message; the
/// template's default system message where it has one). Encode it with add_bos = true. With an
/// empty `context` its token count is the prompt's overhead around the haystack.
std::string needle_prompt_text(const NeedleOptions& opt, const Tokenizer& tok, const std::string& context);

/// Scores of one cell.
struct NeedleScores {
  double rouge1_f = 0, rougeL_f = 0;  ///< against the needle sentence
  bool contains = false;              ///< key phrase found (contains_normalized)
  double agreement_rougeL = 1;        ///< ROUGE-L F1 against the unquantized answer
};

/// Scores a response; `fp_response` null means this is the unquantized run (agreement 1).
NeedleScores score_needle_response(const std::string& response, const NeedleOptions& opt,
                                   const std::string* fp_response);

/// Store key of a cell: "L<length>_D<depth with 1 decimal>", e.g. "L256_D50.0".
std::string needle_cell_key(int64_t context_length, double depth_percent);

/// What one configuration's needle run did.
struct NeedleRunSummary {
  int64_t run_id = 0;
  std::string config;            ///< canonical configuration string
  int64_t cells_computed = 0;    ///< cells generated in this call
  int64_t cells_skipped = 0;     ///< cells already stored (resume)
  nlohmann::json metrics;        ///< as stored (docs/run-items.md)
};

/// Runs the grid for every configuration and stores each cell as it finishes (kind "needle",
/// prompt needle_prompt_text(opt, tok, haystack with needle) encoded with BOS,
/// status "running", then "done" with the metrics). The unquantized reference runs first
/// (added when `configs` has none, and stored as its own run) so that each quantized cell gets
/// its agreement score. A run with the same identity (model, calibration, config, haystack
/// sha256, params) is resumed: stored cells are skipped. Each answer is greedy with
/// make_kv_cache(..., full_prefill = true, packed = model on the CPU) from
/// KVLayouts::build(config, model, calib): the packed cache for SKVQ/RTN (same attention inputs
/// as fake quantization), the fake-quant cache for KIVI and the unquantized reference.
/// Prompts longer than the model's max_position_embeddings are run anyway with a warning on
/// stderr (set ModelConfig::rope_scaling_factor before building the Model for linear RoPE
/// scaling). `calibration_id` is recorded for configurations that need the calibration.
/// progress counts cells over all configurations. Throws FileError (haystack), ConfigError
/// (options, configuration vs model or calibration), StoreError, Cancelled.
std::vector<NeedleRunSummary> run_needle(const Model& model, const Tokenizer& tok,
                                         const std::vector<QuantConfig>& configs,
                                         const Calibration* calib, RunStore& store,
                                         int64_t model_id, std::optional<int64_t> calibration_id,
                                         const NeedleOptions& opt, ProgressFn progress = nullptr,
                                         CancelFlag cancel = nullptr);

/// The cells of needle runs in the common harness layout: an array of {"model",
/// "context_length", "depth_percent", "version" (configuration string), "needle",
/// "model_response", "score"} where score = 10 * ROUGE-1 F1 (the harness's 0-10 scale),
/// ordered by run, then length, then depth. Throws StoreError for an unknown run id.
nlohmann::json needle_export_json(RunStore& store, const std::vector<int64_t>& run_ids,
                                  const std::string& model_name);

}  // namespace skvq
