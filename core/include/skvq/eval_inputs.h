#pragma once
// Inputs of the evaluation runs that the command line and the desktop application prepare the
// same way: the needle grid's default buffer, the analyzed tokens of a text and the default
// analysis configuration, LongBench data files, a model's display name.
#include <cstdint>
#include <string>
#include <vector>

#include "skvq/longbench.h"
#include "skvq/needle.h"
#include "skvq/quant_config.h"

namespace skvq {

class Tokenizer;
struct Calibration;

/// Default NeedleOptions::buffer_tokens: the protocol's ~200 tokens (an eighth of a short
/// context: min(200, max_position_embeddings / 8)), but never less than the prompt around an
/// empty haystack (needle_prompt_text(opt, tok, "") encoded with BOS) plus opt.max_new_tokens
/// plus 8 (the joins of template, haystack and needle can tokenize a little longer), so that a
/// cell's prompt and answer fit in its context length. Throws ConfigError for an unknown chat
/// template name.
int64_t default_needle_buffer(const NeedleOptions& opt, const Tokenizer& tok, int64_t max_position_embeddings);

/// The first `limit` tokens (BOS first, tok.encode(text, true)) of the text file at `path`, or
/// all of them when it has fewer; reads 16 bytes per token (at least 4096) and doubles that
/// until enough is read. Throws FileError for a missing file.
std::vector<int32_t> leading_text_tokens(const Tokenizer& tok, const std::string& path, int64_t limit);

/// The analysis configuration when none is given: k2-v2-g<g>-reorder-clip-sink5 with
/// g = analysis_group_size(unquantized, kv_channels), or the first group size of `calib` when
/// it has no clusters for g. `calib` may be null.
QuantConfig default_analyze_config(int64_t kv_channels, const Calibration* calib);

/// Samples of one or more LongBench / L-Eval JSONL files (load_eval_jsonl, indices continuing
/// per task across files), with the run identity of the data: the paths joined by ',' and
/// sha256_hex of their concatenated file hashes.
struct EvalData {
  std::vector<EvalSample> samples;
  std::string data_path, data_sha256;
  int64_t skipped_empty_lines = 0;
};
/// Loads the files in order. Throws FileError (load_eval_jsonl), ConfigError when `paths` is
/// empty or the files hold no sample.
EvalData load_eval_files(const std::vector<std::string>& paths);

/// The built-in task table with the tasks of `tasks_file` (load_task_table) added or
/// overriding; the built-in one alone when `tasks_file` is empty. Throws FileError.
TaskTable task_table_with(const std::string& tasks_file);

/// A short name for a model path: a directory's name, the directory of a config.json, else the
/// file name without its extension ("stories260K.bin" -> "stories260K").
std::string model_display_name(const std::string& path);

}  // namespace skvq
