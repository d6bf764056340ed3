// skvq runs merge OUT.sqlite IN.sqlite...: run stores of the shards of a sweep (or of several
// machines) into one, deduplicated by run identity (RunStore::merge_from).
#include <iostream>
#include <memory>
#include <vector>

#include "commands.h"
#include "skvq/error.h"
#include "skvq/run_store.h"

namespace skvq::cli {

void add_runs_merge_command(CLI::App& runs) {
  auto out = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto* cmd = runs.add_subcommand(
      "merge",
      "merge run stores into OUT (created when missing): done runs deduplicated by identity, provenance kept, inputs "
      "opened read-only; a run two stores hold with different results is a conflict: listed, not merged, exit 1");
  cmd->add_option("out", *out, "the run store to merge into")->required();
  cmd->add_option("inputs", *inputs, "run stores to merge from")->required();
  cmd->callback([out, inputs] {
    RunStore store(*out);
    const MergeSummary s = store.merge_from(*inputs);
    std::cout << "merged " << inputs->size() << " stores into " << *out << ": " << s.runs_added << " runs added, "
              << s.runs_duplicate << " already there with equal results, " << s.items_added << " items, "
              << s.models_added << " models, " << s.calibrations_added << " calibrations, " << s.sources_added
              << " provenance rows\n";
    if (s.runs_unfinished > 0)
      std::cout << "not merged: " << s.runs_unfinished
                << " runs not done (failed, interrupted or running; run their shard again to finish them)\n";
    if (s.runs_superseded > 0)
      std::cout << "not merged: " << s.runs_superseded << " older done runs of identities an input holds a newer one of\n";
    for (const MergeConflict& c : s.conflicts)
      std::cerr << "skvq: conflict: " << c.source << " run " << c.source_run_id << " (" << c.kind << " " << c.config
                << ") has the identity of run " << c.run_id << " of " << *out << " but other results (" << c.difference
                << "); not merged, " << *out << " keeps run " << c.run_id << "\n";
    if (!s.conflicts.empty())
      throw Error(std::to_string(s.conflicts.size()) + " conflicting runs not merged (listed above); everything else was");
  });
}

}  // namespace skvq::cli
