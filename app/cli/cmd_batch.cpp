// skvq batch JOB.json: calibrate if needed, evaluate every configuration, store, compare.
#include <iostream>
#include <memory>

#include "commands.h"
#include "progress.h"
#include "skvq/batch.h"

namespace skvq::cli {

void add_batch_command(CLI::App& app) {
  auto job = std::make_shared<std::string>();
  const CLI::Option* db_option = app.get_option("--db");
  auto* cmd = app.add_subcommand("batch", "run a JSON batch job (resumable: stored runs are skipped; Ctrl-C keeps finished runs)");
  cmd->add_option("job", *job, "batch file (JSON)")->required();
  cmd->callback([job, db_option] {
    auto cancel = install_cancel_handler();
    // --db given on the command line wins over the job's "db" field.
    run_batch_file(*job, db_option->count() > 0 ? globals().db : std::string(), std::cout,
                   [](const std::string& c, int64_t i, int64_t n, int64_t done, int64_t total) {
                     draw_progress("[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + c, done, total, "chunks");
                   },
                   cancel);
  });
}

}  // namespace skvq::cli
