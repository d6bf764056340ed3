#pragma once
// Splitting a batch job into shards (skvq batch JOB --shard I/N, --plan, --prepare): the job's
// work units in one stable order, unit k in shard k mod N, so N shards (one Slurm array task
// each, each writing its own run store) cover every unit exactly once; `skvq runs merge`
// combines their stores.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "skvq/quant_config.h"

namespace skvq {

/// Shard `index` of `count` (0 <= index < count).
struct ShardSpec {
  int64_t index = 0;
  int64_t count = 1;
};

/// Parses "I/N" (decimal integers, 0 <= I < N, N >= 1, e.g. "3/8"; Slurm's
/// "$SLURM_ARRAY_TASK_ID/$N"). Throws ConfigError naming the text and what is wrong.
ShardSpec parse_shard(const std::string& text);

/// One unit of work of a batch job: today each distinct perplexity configuration (kind "ppl").
/// `reference` is the unit whose unquantized PPL this unit's ppl_fp and delta_ppl compare
/// against (the last unquantized configuration before it, as a single-process run computes
/// them), or -1.
struct WorkUnit {
  int64_t index = 0;       ///< position in the stable order (0-based)
  std::string kind;        ///< "ppl"
  std::string config;      ///< canonical configuration string
  bool unquantized = false;
  int64_t reference = -1;
};

/// The distinct configurations of `configs` in first-seen order (equal QuantConfigs, such as
/// "k02-v2-g8" and "k2-v2-g8-w0", count once): the order run_ppl_job evaluates them in.
/// Throws ConfigError for a malformed configuration string.
std::vector<QuantConfig> distinct_configs(const std::vector<std::string>& configs);

/// The work units of a batch job's configurations, in the stable order (distinct_configs).
std::vector<WorkUnit> batch_units(const std::vector<std::string>& configs);

/// The shard unit `unit_index` belongs to among `shard_count` shards: unit_index mod shard_count.
int64_t shard_of(int64_t unit_index, int64_t shard_count);

/// Indices (rising) of the units of `shard`.
std::vector<size_t> shard_units(const std::vector<WorkUnit>& units, const ShardSpec& shard);

/// Indices (rising) of the units a --prepare step computes before the shards start: every
/// unquantized unit that some other unit takes as its reference.
std::vector<size_t> prepare_units(const std::vector<WorkUnit>& units);

/// The plan as text: "units K", "shards N", then one line per unit "<unit> <shard> <kind>
/// <config> <reference unit or ->" under a header; units of `mark` (when given) end in " *".
std::string format_plan(const std::vector<WorkUnit>& units, int64_t shard_count,
                        std::optional<int64_t> mark = std::nullopt);

}  // namespace skvq
