// skvq info: what a model is (architecture, parameters, KV bytes per token).
#include <iostream>
#include <memory>

#include "commands.h"
#include "skvq/session.h"
#include "skvq/weights.h"

namespace skvq::cli {

void add_info_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "describe a model");
  cmd->add_option("--model", *model, "llama2.c .bin file or Hugging Face directory")->required();
  cmd->callback([model] {
    ModelWeights w = load_model(*model);
    std::cout << w.name << ": " << w.config.describe() << "\n"
              << "parameters " << w.num_parameters() << ", K/V channels per layer " << w.config.kv_channels()
              << ", float16 KV bytes per token " << w.config.kv_bytes_per_token(2) << "\n"
              << "sha256 " << w.sha256 << "\n";
  });
}

}  // namespace skvq::cli
