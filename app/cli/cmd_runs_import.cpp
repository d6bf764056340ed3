// skvq runs import: peer rows (bench/peers/run.sh's peers.json) into the run store.
#include <iostream>
#include <memory>

#include "commands.h"
#include "skvq/peers.h"
#include "skvq/run_store.h"

namespace skvq::cli {

void add_runs_import_command(CLI::App& runs) {
  auto file = std::make_shared<std::string>();
  auto* imp = runs.add_subcommand("import", "store peer rows (llama.cpp, Hugging Face) from a peers.json as kind \"peer\"");
  imp->add_option("file", *file, "peers.json written by bench/peers/run.sh")->required();
  imp->callback([file] {
    RunStore store(globals().db);
    const PeerImportResult r = import_peers(store, *file);
    std::cout << "imported " << r.run_ids.size() << " peer rows from " << *file << " into " << globals().db << " ("
              << r.updated << " updated, " << r.skipped_own << " skvq rows skipped: stored by skvq ppl)\n";
  });
}

}  // namespace skvq::cli
