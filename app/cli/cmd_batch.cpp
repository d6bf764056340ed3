// skvq batch JOB.json: calibrate if needed, evaluate every configuration, store, compare;
// --shard I/N evaluates one shard of it, --prepare its shared steps, --plan prints the split.
#include <iostream>
#include <memory>

#include "commands.h"
#include "progress.h"
#include "skvq/batch.h"

namespace skvq::cli {

namespace {

struct BatchArgs {
  std::string job, shard;
  bool plan = false, prepare = false;
};

}  // namespace

void add_batch_command(CLI::App& app) {
  auto args = std::make_shared<BatchArgs>();
  const CLI::Option* db_option = app.get_option("--db");
  auto* cmd = app.add_subcommand("batch", "run a JSON batch job (resumable: stored runs are skipped; Ctrl-C keeps finished runs)");
  cmd->add_option("job", args->job, "batch file (JSON)")->required();
  const CLI::Option* shard_option = cmd->add_option("--shard", args->shard,
                  "I/N: evaluate only shard I of N (unit k is in shard k mod N; 0 <= I < N), e.g. "
                  "$SLURM_ARRAY_TASK_ID/N; each shard writes its own --db, `skvq runs merge` combines them");
  cmd->add_flag("--plan", args->plan, "print the job's units and their shard (N from --shard, else 1) and stop");
  cmd->add_flag("--prepare", args->prepare,
                "make the calibration and the unquantized reference runs only, once before the shards");
  cmd->callback([args, db_option, shard_option] {
    BatchRunOptions how;
    if (shard_option->count() > 0) how.shard = parse_shard(args->shard);
    how.plan = args->plan;
    how.prepare = args->prepare;
    auto cancel = install_cancel_handler();
    // --db given on the command line wins over the job's "db" field.
    run_batch_file(args->job, db_option->count() > 0 ? globals().db : std::string(), std::cout,
                   [](const std::string& c, int64_t i, int64_t n, int64_t done, int64_t total) {
                     draw_progress("[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + c, done, total, "chunks");
                   },
                   cancel, how);
  });
}

}  // namespace skvq::cli
