// skvq runs import: peer rows of a hand-written peers.json round-trip through the run store;
// bad files give exit 1 naming the file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "skvq/error.h"
#include "skvq/peers.h"
#include "skvq/run_store.h"
#include "test_util.h"

using namespace skvq;

namespace {

const std::string kSha(64, 'a');

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir + "/" + name) << text;
  return dir + "/" + name;
}

const char* kPeers = R"([
 {"system": "llama.cpp", "version": "llama-cpp-python 0.3.36 / llama.cpp 0c1e570", "config": "q4_0",
  "model": "/models/SmolLM2-135M-Instruct.Q4_1.gguf", "model_sha256": "AAAA",
  "text": "/data/wiki.test.raw", "text_sha256": "beef", "protocol": "llama.cpp", "ctx_len": 512, "threads": 2,
  "bits_k": 4.5, "bits_v": 4.5, "kv_bytes_per_token": 10368, "ppl": 21.2345, "tokens": 2550,
  "prompt_tokens_per_s": 812.5, "decode_tokens_per_s": {"0": 95.25, "1024": null}, "peak_rss_mb": null},
 {"system": "skvq", "version": "0.9", "config": "fp16", "model": "m.gguf", "model_sha256": "AAAA", "ppl": 20.0}
])";

std::string peers_text() {
  std::string s = kPeers;
  for (size_t p; (p = s.find("AAAA")) != std::string::npos;) s.replace(p, 4, kSha);
  return s;
}

struct Cli {
  int code = -1;
  std::string out;
};

Cli run_cli(const std::string& args) {
  Cli r;
  FILE* p = popen(("'" + test::built("app/skvq") + "' " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST(PeersImport, ValuesRoundTripAndReimportUpdatesInPlace) {
  const std::string dir = test::temp_dir("peers");
  const std::string file = write(dir, "peers.json", peers_text());
  RunStore store(dir + "/runs.db");
  auto r = import_peers(store, file);
  ASSERT_EQ(r.run_ids.size(), 1u);
  EXPECT_EQ(r.skipped_own, 1);
  EXPECT_EQ(r.updated, 0);
  auto run = store.get_run(r.run_ids[0]);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->kind, "peer");
  EXPECT_EQ(run->config, "q4_0");
  EXPECT_EQ(run->data_path, "/data/wiki.test.raw");
  EXPECT_EQ(run->data_sha256, "beef");
  EXPECT_EQ(run->params.value("system", ""), "llama.cpp");
  EXPECT_EQ(run->params.value("version", ""), "llama-cpp-python 0.3.36 / llama.cpp 0c1e570");
  EXPECT_EQ(run->params.value("protocol", ""), "llama.cpp");
  EXPECT_EQ(run->params.value("ctx_len", 0), 512);
  EXPECT_EQ(run->params.value("threads", 0), 2);
  EXPECT_DOUBLE_EQ(run->metrics.value("ppl", 0.0), 21.2345);
  EXPECT_DOUBLE_EQ(run->metrics.value("bits_k", 0.0), 4.5);
  EXPECT_DOUBLE_EQ(run->metrics.value("kv_bytes_per_token", 0.0), 10368);
  EXPECT_EQ(run->metrics.value("tokens", 0), 2550);
  EXPECT_DOUBLE_EQ(run->metrics.value("prompt_tokens_per_s", 0.0), 812.5);
  EXPECT_DOUBLE_EQ(run->metrics["decode_tokens_per_s"].value("0", 0.0), 95.25);
  EXPECT_FALSE(run->metrics["decode_tokens_per_s"].contains("1024"));  // null = not measured
  EXPECT_FALSE(run->metrics.contains("peak_rss_mb"));
  auto models = store.list_models();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].sha256, kSha);
  EXPECT_EQ(models[0].name, "SmolLM2-135M-Instruct.Q4_1.gguf");

  std::string changed = peers_text();
  changed.replace(changed.find("21.2345"), 7, "22.5");
  write(dir, "peers.json", changed);
  auto again = import_peers(store, file);
  ASSERT_EQ(again.run_ids.size(), 1u);
  EXPECT_EQ(again.run_ids[0], r.run_ids[0]);
  EXPECT_EQ(again.updated, 1);
  EXPECT_EQ(store.list_runs().size(), 1u);
  EXPECT_DOUBLE_EQ(store.get_run(r.run_ids[0])->metrics.value("ppl", 0.0), 22.5);
  std::filesystem::remove_all(dir);
}

TEST(PeersImport, ARunOfOursKeepsItsModelRecord) {
  const std::string dir = test::temp_dir("peers-model");
  RunStore store(dir + "/runs.db");
  ModelRecord m;
  m.name = "SmolLM2-135M-Instruct";
  m.path = "/x/m.gguf";
  m.sha256 = kSha;
  m.config = {{"hidden_size", 576}};
  m.identity = "identity-of-our-own-run";  // as register_model makes it (more than the weights)
  const int64_t id = store.upsert_model(m);
  auto r = import_peers(store, write(dir, "peers.json", peers_text()));
  EXPECT_EQ(store.get_run(r.run_ids[0])->model_id, id);
  EXPECT_EQ(store.get_model(id)->config.value("hidden_size", 0), 576);
  EXPECT_EQ(store.get_model(id)->name, "SmolLM2-135M-Instruct");
  std::filesystem::remove_all(dir);
}

TEST(PeersImport, BadFilesExitOneNamingTheFile) {
  const std::string dir = test::temp_dir("peers-bad");
  const std::string db = dir + "/runs.db";
  auto expect_error = [&](const std::string& file, const std::string& problem) {
    Cli c = run_cli("--db '" + db + "' runs import '" + file + "'");
    EXPECT_EQ(c.code, 1) << c.out;
    EXPECT_NE(c.out.find(file + ": "), std::string::npos) << c.out;
    EXPECT_NE(c.out.find(problem), std::string::npos) << c.out;
  };
  expect_error(dir + "/missing.json", "missing.json");
  expect_error(write(dir, "notjson.json", "[{\"system\": "), "notjson.json");
  expect_error(write(dir, "object.json", "{\"rows\": []}"), "expected a JSON array");
  std::string no_sha = peers_text();
  no_sha.replace(no_sha.find(kSha), 64, "123");
  expect_error(write(dir, "sha.json", no_sha), "row 1: \"model_sha256\" is not 64 hex digits");
  std::string bad_ppl = peers_text();
  bad_ppl.replace(bad_ppl.find("21.2345"), 7, "\"low\"");
  expect_error(write(dir, "ppl.json", bad_ppl), "row 1: \"ppl\" must be a number or null");
  std::string no_system = peers_text();
  no_system.replace(no_system.rfind("\"system\": \"skvq\","), 17, "");
  expect_error(write(dir, "system.json", no_system), "row 2: missing or empty string field \"system\"");
  // Nothing was written by the failed imports (rows are all checked first).
  RunStore store(db);
  EXPECT_TRUE(store.list_runs().empty());
  Cli ok = run_cli("--db '" + db + "' runs import '" + write(dir, "good.json", peers_text()) + "'");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("imported 1 peer rows"), std::string::npos) << ok.out;
  std::filesystem::remove_all(dir);
}
