#pragma once
// LongBench-style evaluation (skvq-method.md section 8): JSONL loaders for LongBench and L-Eval,
// a task table (prompt template, answer length, metric), middle-truncated prompts, greedy
// answers under any KV-cache configuration, per-sample storage (docs/run-items.md, kind
// "longbench").
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
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

/// One evaluation sample (a LongBench record, or one instruction of an L-Eval record).
struct EvalSample {
  std::string task;                      ///< LongBench "dataset" field (file stem when absent); L-Eval: file stem
  int64_t index = 0;                     ///< position within its task (0-based, file order)
  std::string input, context;            ///< question/instruction and long document
  std::vector<std::string> answers;      ///< references (max score over them)
  std::vector<std::string> all_classes;  ///< classification tasks only
  int64_t length = 0;                    ///< LongBench "length" (words), 0 when absent
  std::string source;                    ///< file path
  int64_t line = 0;                      ///< 1-based line in the file
};

/// Samples read from one or more JSONL files.
struct EvalSamples {
  std::vector<EvalSample> samples;
  int64_t skipped_empty_lines = 0;  ///< blank lines skipped
};

/// LongBench JSONL: one JSON object a line with "input", "context", "answers" (array of
/// strings), optional "length", "dataset", "all_classes" (array or null). Blank lines are skipped
/// and counted. Throws FileError "<path>: line N: ..." for a missing file, invalid JSON or a
/// missing/wrongly typed field.
EvalSamples load_longbench_jsonl(const std::string& path);

/// L-Eval JSONL: one object a line with "input" (the document), "instructions" and "outputs"
/// (arrays of equal length); each instruction is one sample (context = document, input =
/// instruction, answers = {output}), task = file stem. Errors as load_longbench_jsonl.
EvalSamples load_leval_jsonl(const std::string& path);

/// Chooses the loader from the first non-blank line: "instructions" present -> L-Eval, else
/// LongBench. Indices continue per task after `offsets` (task -> samples already loaded) so that
/// several files of one task get distinct indices; `offsets` is updated.
EvalSamples load_eval_jsonl(const std::string& path, std::map<std::string, int64_t>* offsets = nullptr);

/// How one task is prompted and scored.
struct TaskSpec {
  std::string name;
  std::string prompt_template;  ///< "{context}" and "{input}" are replaced
  int64_t max_new_tokens = 64;  ///< answer length limit (tokens)
  std::string metric;           ///< qa_f1, rouge_l, rouge_1, classification, retrieval, count, code_sim, contains
  bool first_line = false;      ///< score only the first line of the answer (trec, triviaqa, samsum, lsht)
};

/// Task name -> spec.
using TaskTable = std::map<std::string, TaskSpec>;

/// The built-in table: the LongBench English tasks (dataset2prompt / dataset2maxlen / metrics of
/// the reference) and the three L-Eval tasks in the shared data; resources/longbench_tasks.json
/// holds the same table as a template for --tasks-file.
TaskTable builtin_task_table();

/// Parses a task table JSON object {"<task>": {"prompt", "max_new_tokens", "metric",
/// "first_line" (optional)}}. Throws FileError naming the file and task for a missing field, and
/// for an unknown metric.
TaskTable parse_task_table(const nlohmann::json& j, const std::string& source);
/// Reads and parses a task table file. Throws FileError.
TaskTable load_task_table(const std::string& path);
/// The table as JSON (inverse of parse_task_table).
nlohmann::json task_table_json(const TaskTable& t);

/// Scores one prediction against one reference with `metric` (0..1). Throws ConfigError for an
/// unknown metric.
double score_answer(const std::string& metric, const std::string& prediction,
                    const std::string& reference, const std::vector<std::string>& all_classes);
/// LongBench scoring of a sample: the prediction (first line only when spec.first_line, after
/// stripping leading newlines) against every answer, the maximum kept (0 without answers).
double score_sample(const TaskSpec& spec, const std::string& prediction, const EvalSample& s);

/// The prompt text of a sample: template with "{context}" and "{input}" replaced.
std::string fill_task_template(const std::string& tmpl, const EvalSample& s);

/// Options of one LongBench run.
struct LongBenchOptions {
  int64_t max_samples = 0;        ///< per task, 0 = all
  int64_t max_prompt_tokens = 0;  ///< prompt + answer limit; 0 = the model's max_position_embeddings
  /// Chat template around each filled task prompt (parse_chat_template_option): "auto" = the
  /// model's template when it has a recognised one, plain text otherwise; "none"; or a family.
  std::string chat_template = "auto";
  /// KV storage: false = packed low-bit storage where the method has a packed codec and the
  /// model is on the CPU (decode steps attend over the packed bytes); true = fake quantization.
  bool fake_quant = false;
};

/// A sample's prompt tokens (BOS first where the tokenizer adds it): the task template filled
/// with the sample (fill_task_template) as the user message of `chat` (apply_chat_template with
/// the model's template text tok.chat_template(), no system message). When that is longer than
/// `max_prompt` tokens the filled task prompt is truncated in the middle, as LongBench does
/// before it applies the chat template, so that the template tokens are kept whole and the
/// result has at most `max_prompt` tokens. `truncated` (optional) is set when it was cut.
std::vector<int32_t> longbench_prompt_tokens(const Tokenizer& tok, ChatFamily chat, const TaskSpec& spec,
                                             const EvalSample& s, int64_t max_prompt,
                                             bool* truncated = nullptr);

/// Result of one configuration.
struct LongBenchSummary {
  int64_t run_id = 0;
  std::string config;
  int64_t computed = 0, skipped = 0;  ///< samples generated now / found in the store
  nlohmann::json metrics;             ///< {"tasks": {task: {"score", "metric", "samples"}}, "average"}
};

/// Runs every configuration over the samples (kind "longbench", one run per configuration,
/// status "running" then "done"). The prompt (longbench_prompt_tokens with the chat family of
/// opt.chat_template) has at most max_prompt_tokens - task.max_new_tokens tokens, is answered
/// greedily with a
/// make_kv_cache(full_prefill = true) cache (packed unless opt.fake_quant), scored by score_sample and stored as item
/// "<task>/<index>" {"task", "index", "prediction", "answers", "score" (0..1), "metric"}.
/// Task scores are 100 x the mean sample score (LongBench's scale); "average" is their mean.
/// The run's params hold "chat_template" (family name) when a chat template is applied, and
/// "kv_storage": "fake-quant" with opt.fake_quant.
/// Stored samples of a run with the same identity are skipped. `data_path`/`data_sha256` name
/// the data files. Throws ConfigError for a task missing from `tasks`, StoreError, Cancelled.
std::vector<LongBenchSummary> run_longbench(
    const Model& model, const Tokenizer& tok, const std::vector<QuantConfig>& configs,
    const Calibration* calib, RunStore& store, int64_t model_id,
    std::optional<int64_t> calibration_id, const std::vector<EvalSample>& samples,
    const TaskTable& tasks, const std::string& data_path, const std::string& data_sha256,
    const LongBenchOptions& opt, ProgressFn progress = nullptr, CancelFlag cancel = nullptr);

}  // namespace skvq
