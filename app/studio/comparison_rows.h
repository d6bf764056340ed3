#pragma once
// What the comparison dashboard compares: perplexity runs ("ppl") and peer rows ("peer", from
// `skvq runs import`) of one model, grouped by their measurement settings so that only runs
// measured the same way (text, slice, ctx_len, scored tokens, protocol) share a table and a plot.
#include <string>
#include <vector>

#include "skvq/run_store.h"

namespace skvq::studio {

/// One row of the dashboard table.
struct ComparisonRow {
  int64_t run_id = 0;
  std::string system;        ///< "skvq" for our runs, else the peer's system (llama.cpp, transformers)
  std::string version;       ///< peer version; empty for ours
  std::string config;        ///< our canonical configuration or the peer's own name (q4_0)
  std::string calibration;   ///< calibration file name, empty when none
  double ppl = 0, delta_ppl = 0, bits_k = 0, bits_v = 0, kv_bytes_per_token = 0, tokens = 0;
  bool peer = false;
  bool unquantized = false;  ///< bits_k and bits_v >= 16 (the system's own baseline)
  bool has_baseline = false; ///< delta_ppl was computed against a baseline row of this group
  /// Average stored bits per element, (bits_k + bits_v) / 2; NaN when unknown.
  double bits() const { return 0.5 * (bits_k + bits_v); }
};

/// The measurement settings of a run, as a key: text sha256, skip_bytes, ctx_len, scored tokens
/// and protocol ("reference" when the run names none). Runs with equal keys are comparable.
std::string settings_key(const RunRecord& run);
/// The same settings for a person: "ctx 1024 · 8184 tokens · llama.cpp protocol · text <file> (sha 1a2b3c4d)".
std::string settings_label(const RunRecord& run);

/// One group of comparable runs: its key, label and how many runs it holds.
struct SettingsGroup {
  std::string key, label;
  int count = 0;
  RunRecord example;  ///< one run of the group (its params give the evaluate defaults)
};
/// The groups among `runs` (kinds "ppl" and "peer", status "done"), the largest first, ties
/// by first appearance.
std::vector<SettingsGroup> settings_groups(const std::vector<RunRecord>& runs);

/// The rows of `runs` whose settings_key is `key`, in run order. delta_ppl is each row's PPL
/// minus the PPL of the first unquantized row of the same system in the group (so llama.cpp's
/// q4_0 is measured against llama.cpp's f16, ours against our fp16); NaN with has_baseline
/// false when the system has no unquantized row there. Metrics that are missing are NaN.
/// `calibrations` name the calibration column (file names of the store's calibrations).
std::vector<ComparisonRow> comparison_rows(const std::vector<RunRecord>& runs, const std::string& key,
                                           const std::vector<CalibrationRecord>& calibrations = {});

}  // namespace skvq::studio
