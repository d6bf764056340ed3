// Fuzz target: batch file (run_batch_file). The job runs in a scratch folder holding only
// model.bin (not a valid checkpoint, so no evaluation ever starts) and text.txt; the data
// directory and the model cache point to an empty folder and the run store to a fresh file in
// the scratch folder. Inputs containing '/' or '\' are skipped, so that no path (not even a JSON
// escape) can reach a file outside the scratch folder.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "fuzz_util.h"
#include "skvq/batch.h"
#include "skvq/common.h"
#include "targets/targets.h"

namespace {

const std::string& batch_dir() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    const std::string d = skvq::fuzz::scratch_dir() + "/batch";
    fs::create_directories(d + "/empty");
    std::ofstream(d + "/model.bin", std::ios::binary) << std::string(28, '\0');
    std::ofstream(d + "/text.txt") << "Once upon a time, there was a little girl named Lily.\n";
    ::setenv("SKVQ_DATA_DIR", (d + "/empty").c_str(), 1);
    ::setenv("SKVQ_MODELS_DIR", (d + "/empty").c_str(), 1);
    fs::current_path(d);
    return d;
  }();
  return dir;
}

}  // namespace

void skvq::fuzz::batch(const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i)
    if (data[i] == '/' || data[i] == '\\') return;
  const std::string& dir = batch_dir();
  const std::string db = dir + "/runs.sqlite";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(db + suffix);
  const std::string job = write_input("batch/job.json", data, size);
  std::ostream null_log(nullptr);
  expect_only_engine_errors([&] { (void)run_batch_file(job, db, null_log); });
  set_threads(1);  // the job may set "threads"
}
