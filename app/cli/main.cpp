// skvq: headless command line over the SKVQ engine.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "commands.h"
#include "skvq/blas_select.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/out_of_memory.h"

namespace skvq::cli {
GlobalOptions& globals() {
  static GlobalOptions g;
  return g;
}
}  // namespace skvq::cli

namespace {
// LibTorch messages carry a stack trace after the first line; a user needs the first.
std::string first_line(const char* what) {
  const std::string s(what);
  return s.substr(0, s.find('\n'));
}
}  // namespace

int main(int argc, char** argv) {
  skvq::select_blas_kernels(argv);
  using namespace skvq::cli;
  // Line-buffered even when redirected: `skvq batch > log` shows each stored run as it happens
  // (and keeps it after kill -9). std::cout goes through stdout (synced with stdio).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"skvq: sliding-window KV cache quantization (SKVQ) engine, headless"};
  app.set_version_flag("--version", std::string("skvq ") + SKVQ_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  auto& g = globals();
  app.add_option("--threads", g.threads, "CPU threads for LibTorch (0 = all cores; capped at the hardware threads)")->check(kAtLeastZero);
  app.add_option("--db", g.db, "run store (SQLite) path")->capture_default_str();
  app.add_option("--dtype", g.dtype, "weight dtype: auto (float32 on cpu unless the checkpoint is bf16; float16 on cuda), float32, bfloat16, float16")
      ->capture_default_str()->check(CLI::IsMember({"auto", "float32", "bfloat16", "float16"}));
  app.add_option("--data-dir", g.data_dir, "data directory (default $SKVQ_DATA_DIR or ../shared/data)");
  app.add_option("--db-lock-timeout", g.db_lock_timeout,
                 "seconds a write waits for another process's lock on the run store (default $SKVQ_DB_LOCK_TIMEOUT or 600)")
      ->check(CLI::Range(0.0, 2e6));
  app.parse_complete_callback([&] {
    if (!g.data_dir.empty()) setenv("SKVQ_DATA_DIR", g.data_dir.c_str(), 1);
    if (g.db_lock_timeout >= 0) setenv("SKVQ_DB_LOCK_TIMEOUT", std::to_string(g.db_lock_timeout).c_str(), 1);
    skvq::set_threads(g.threads);
  });

  add_generate_command(app);
  add_ppl_command(app);
  add_calibrate_command(app);
  add_convert_command(app);
  add_info_command(app);
  add_runs_command(app);
  add_runs_import_command(*app.get_subcommand("runs"));
  add_runs_merge_command(*app.get_subcommand("runs"));
  add_batch_command(app);
  add_bench_command(app);
  add_memory_command(app);
  add_needle_command(app);
  add_longbench_command(app);
  add_analyze_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help, version or the usage error
    return rc == 0 ? 0 : 2;
  } catch (const skvq::Cancelled&) {
    std::fprintf(stderr, "skvq: cancelled\n");
    return 130;
  } catch (const skvq::Error& e) {
    std::fprintf(stderr, "skvq: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    if (skvq::is_out_of_memory(e)) {
      std::fprintf(stderr, "skvq: error: out of memory (%s): the command needs more memory than this process may use; "
                           "try a shorter --ctx-len, fewer chunks, --dtype bf16 or a smaller model\n", first_line(e.what()).c_str());
      return 1;
    }
    std::fprintf(stderr, "skvq: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
