#pragma once
// Subcommands of the `skvq` command line; each file cmd_<name>.cpp adds one to the app.
#include <CLI/CLI.hpp>

#include <string>

namespace skvq::cli {

/// Options every subcommand shares (set on the top-level app).
struct GlobalOptions {
  int threads = 0;            ///< 0 = hardware concurrency
  std::string db = "runs.sqlite";
  std::string data_dir;       ///< overrides SKVQ_DATA_DIR when set
  std::string dtype = "auto"; ///< weight dtype: auto, float32, bfloat16, float16
  double db_lock_timeout = -1; ///< --db-lock-timeout seconds (sets SKVQ_DB_LOCK_TIMEOUT); < 0: unset
};

GlobalOptions& globals();

void add_generate_command(CLI::App& app);
void add_ppl_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_runs_command(CLI::App& app);
/// `skvq runs import FILE`: peer rows into the run store (cmd_runs_import.cpp); `runs` is the
/// subcommand add_runs_command made.
void add_runs_import_command(CLI::App& runs);
/// `skvq runs merge OUT IN...`: run stores into one (cmd_runs_merge.cpp); `runs` as above.
void add_runs_merge_command(CLI::App& runs);
void add_batch_command(CLI::App& app);
/// `skvq bench`: decode-attention and quantize-and-pack timings (cmd_bench.cpp).
void add_bench_command(CLI::App& app);
/// `skvq memory`: KV-cache bytes per configuration and the longest context in a budget (cmd_memory.cpp).
void add_memory_command(CLI::App& app);
void add_needle_command(CLI::App& app);
void add_longbench_command(CLI::App& app);
void add_analyze_command(CLI::App& app);

}  // namespace skvq::cli

namespace skvq::cli {

/// Option checks with readable messages ("Value 0 not in range 1 to 1099511627776").
inline const CLI::Range kAtLeastOne{int64_t{1}, int64_t{1} << 40};
inline const CLI::Range kAtLeastZero{int64_t{0}, int64_t{1} << 40};

}  // namespace skvq::cli
