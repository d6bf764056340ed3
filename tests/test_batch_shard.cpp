// Sharded batch jobs: the split covers every unit exactly once, the plan, bad --shard values,
// and a job run as shards and merged equals the same job run in one process.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "skvq/batch_shard.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/run_store.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> kConfigs = {"fp16", "k4-v4-g8-rtn", "k2-v2-g8-rtn", "k02-v2-g8-rtn",
                                           "k2-v2-g8-KIVI", "k3-v3-g8-rtn", "k8-v8-g8"};

std::string skvq_bin() { return skvq::test::built("app/skvq"); }

skvq::test::CommandResult skvq_run(const std::string& args) {
  return skvq::test::run_command("SKVQ_DATA_DIR='" + skvq::test::data_dir() + "' '" + skvq_bin() + "' " + args);
}

}  // namespace

TEST(BatchShard, ParseShardAcceptsIOverN) {
  auto s = skvq::parse_shard("3/8");
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 8);
  s = skvq::parse_shard("0/1");
  EXPECT_EQ(s.index, 0);
  EXPECT_EQ(s.count, 1);
}

TEST(BatchShard, MalformedShardIsAConfigErrorSayingWhat) {
  auto message = [](const std::string& text) {
    try {
      skvq::parse_shard(text);
    } catch (const skvq::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message("4/4").find("shard index 4 is not below the count 4"), std::string::npos) << message("4/4");
  EXPECT_NE(message("0/0").find("N must be at least 1"), std::string::npos) << message("0/0");
  for (const char* junk : {"", "1", "a/4", "1/b", "-1/4", "1/-4", "1/4/2", " 1/4", "1/4 ", "0x1/4", "1.0/4",
                           "99999999999999/4"})
    EXPECT_NE(message(junk).find("expected I/N with 0 <= I < N"), std::string::npos) << "'" << junk << "': "
                                                                                       << message(junk);
}

TEST(BatchShard, UnitsAreTheDistinctConfigurationsInJobOrder) {
  const auto units = skvq::batch_units(kConfigs);
  // "k02-v2-g8-rtn" is "k2-v2-g8-rtn": evaluated once, as run_ppl_job does.
  ASSERT_EQ(units.size(), 6u);
  EXPECT_EQ(units[0].config, "fp16");
  EXPECT_TRUE(units[0].unquantized);
  EXPECT_EQ(units[0].reference, -1);
  for (size_t i = 1; i < units.size(); ++i) {
    EXPECT_EQ(units[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(units[i].kind, "ppl");
    EXPECT_FALSE(units[i].unquantized);
    EXPECT_EQ(units[i].reference, 0) << units[i].config;  // ppl_fp: the fp16 before it
  }
  EXPECT_EQ(skvq::prepare_units(units), std::vector<size_t>({0}));
  // A configuration before any unquantized one has no reference (no ppl_fp in one process either).
  const auto later = skvq::batch_units({"k2-v2-g8-rtn", "fp16", "k4-v4-g8-rtn"});
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[0].reference, -1);
  EXPECT_EQ(later[2].reference, 1);
  EXPECT_EQ(skvq::prepare_units(later), std::vector<size_t>({1}));
}

TEST(BatchShard, ShardsCoverEveryUnitExactlyOnceForOneToFiveShards) {
  const auto units = skvq::batch_units(kConfigs);
  for (int64_t n = 1; n <= 5; ++n) {
    std::map<size_t, int> seen;
    for (int64_t i = 0; i < n; ++i) {
      const auto mine = skvq::shard_units(units, {i, n});
      for (size_t u : mine) {
        ++seen[u];
        EXPECT_EQ(skvq::shard_of(static_cast<int64_t>(u), n), i);
      }
      // Round robin: shard sizes differ by at most one.
      const size_t lo = units.size() / static_cast<size_t>(n);
      EXPECT_GE(mine.size(), lo);
      EXPECT_LE(mine.size(), lo + 1);
    }
    ASSERT_EQ(seen.size(), units.size()) << n << " shards";
    for (const auto& [u, count] : seen) EXPECT_EQ(count, 1) << "unit " << u << ", " << n << " shards";
  }
}

TEST(BatchShard, PlanListsUnitsWithTheirShard) {
  const auto units = skvq::batch_units(kConfigs);
  const std::string plan = skvq::format_plan(units, 4, 1);
  EXPECT_EQ(plan.rfind("units 6\nshards 4\n", 0), 0u) << plan;
  // Unit 5 (k8-v8-g8) is in shard 1 of 4 and marked; unit 2 is in shard 2, not marked.
  EXPECT_TRUE(std::regex_search(plan, std::regex("\n +5 +1 ppl +k8-v8-g8 +0 \\*\n"))) << plan;
  EXPECT_TRUE(std::regex_search(plan, std::regex("\n +2 +2 ppl +k2-v2-g8-rtn +0\n"))) << plan;
  EXPECT_TRUE(std::regex_search(plan, std::regex("\n +0 +0 ppl +fp16 +-\n"))) << plan;
}

class BatchShardCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(skvq_bin())) GTEST_SKIP() << "skvq not built at " << skvq_bin();
    dir_ = skvq::test::temp_dir("shard");
    job_ = dir_ + "/job.json";
    const json j = {{"model", "models/stories260K/stories260K.bin"},
                    {"threads", 1},
                    {"calibration",
                     {{"file", dir_ + "/cal.json"}, {"text", "text/wikitext2/wiki.test.raw"}, {"max_bytes", 20000},
                      {"samples", 2}, {"seq_len", 64}, {"group_sizes", {8}}, {"seed", 7}}},
                    {"ppl", {{"text", "text/tinystories/tinystories_val.txt"}, {"ctx_len", 64}, {"max_chunks", 2}, {"max_bytes", 20000}}},
                    {"configs", {"fp16", "k2-v2-g8-rtn", "k2-v2-g8-reorder-clip-sink5-fp8", "k4-v4-g8-KIVI"}}};
    std::ofstream(job_) << j.dump(2);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string dir_, job_;
};

TEST_F(BatchShardCli, BadShardExitsOneWithTheReason) {
  for (const char* bad : {"4/4", "0/0", "x/2", "1", "-1/2"}) {
    const auto r = skvq_run("batch '" + job_ + "' --db '" + dir_ + "/s.sqlite' --shard '" + bad + "'");
    EXPECT_EQ(r.code, 1) << bad << ": " << r.out;
    EXPECT_NE(r.out.find("--shard '" + std::string(bad) + "'"), std::string::npos) << r.out;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/s.sqlite"));  // nothing was written
  const auto r = skvq_run("batch '" + job_ + "' --db '" + dir_ + "/s.sqlite' --shard 0/2 --prepare");
  EXPECT_EQ(r.code, 1) << r.out;
}

TEST_F(BatchShardCli, PlanPrintsUnitsAndWritesNothing) {
  const auto r = skvq_run("batch '" + job_ + "' --db '" + dir_ + "/p.sqlite' --plan --shard 1/3");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("units 4\nshards 3\n", 0), 0u) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n +1 +1 ppl +k2-v2-g8-rtn +0 \\*\n"))) << r.out;
  EXPECT_NE(r.out.find("prepare: reference units 0, and the calibration"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ + "/p.sqlite"));
  EXPECT_FALSE(fs::exists(dir_ + "/cal.json"));
}

TEST_F(BatchShardCli, ShardWithoutPreparedCalibrationAsksForPrepare) {
  const auto r = skvq_run("batch '" + job_ + "' --db '" + dir_ + "/s.sqlite' --shard 0/2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("is missing; a shard does not calibrate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--prepare"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ + "/cal.json"));
}

// The whole flow without Slurm: prepare, 3 shards (each its own store, seeded from the prepare
// store as examples/slurm/shard.sbatch does), merge; the merged runs equal a single-process
// run's: same identities, same metrics except timings (ppl bit for bit: same code, same data,
// one thread).
TEST_F(BatchShardCli, ShardsMergedEqualOneProcess) {
  const std::string db = " --db '" + dir_;
  auto r = skvq_run("batch '" + job_ + "'" + db + "/prepare.sqlite' --prepare");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<std::string> shards;
  for (int i = 0; i < 3; ++i) {
    const std::string s = dir_ + "/shard-" + std::to_string(i) + ".sqlite";
    r = skvq_run("runs merge '" + s + "' '" + dir_ + "/prepare.sqlite'");
    ASSERT_EQ(r.code, 0) << r.out;
    r = skvq_run("batch '" + job_ + "' --db '" + s + "' --shard " + std::to_string(i) + "/3");
    ASSERT_EQ(r.code, 0) << r.out;
    shards.push_back("'" + s + "'");
  }
  r = skvq_run("runs merge '" + dir_ + "/merged.sqlite' " + shards[0] + " " + shards[1] + " " + shards[2]);
  ASSERT_EQ(r.code, 0) << r.out;

  // The single process in its own folder, with its own calibration file.
  fs::create_directories(dir_ + "/one");
  json j = json::parse(skvq::read_file(job_));
  j["calibration"]["file"] = dir_ + "/one/cal.json";
  std::ofstream(dir_ + "/one/job.json") << j.dump(2);
  r = skvq_run("batch '" + dir_ + "/one/job.json' --db '" + dir_ + "/one/runs.sqlite'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(skvq::sha256_file(dir_ + "/cal.json"), skvq::sha256_file(dir_ + "/one/cal.json"))
      << "calibration is not deterministic";

  skvq::RunStore merged(dir_ + "/merged.sqlite", 2000, skvq::StoreMode::ReadOnly);
  skvq::RunStore one(dir_ + "/one/runs.sqlite", 2000, skvq::StoreMode::ReadOnly);
  const auto a = merged.list_runs(), b = one.list_runs();
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  std::map<std::string, skvq::RunRecord> by_config;
  for (const auto& x : a) by_config[x.config] = x;
  for (const auto& y : b) {
    ASSERT_TRUE(by_config.count(y.config)) << y.config;
    const auto& x = by_config[y.config];
    EXPECT_EQ(x.status, "done");
    EXPECT_EQ(x.data_sha256, y.data_sha256);
    EXPECT_EQ(skvq::canonical_json(x.params), skvq::canonical_json(y.params));
    EXPECT_EQ(x.calibration_id.has_value(), y.calibration_id.has_value()) << y.config;
    if (x.calibration_id)
      EXPECT_EQ(merged.get_calibration(*x.calibration_id)->sha256, one.get_calibration(*y.calibration_id)->sha256);
    EXPECT_EQ(merged.get_model(x.model_id)->identity, one.get_model(y.model_id)->identity);
    EXPECT_EQ(skvq::result_difference(x.metrics, y.metrics), "") << y.config;
    EXPECT_EQ(x.metrics.at("ppl").get<double>(), y.metrics.at("ppl").get<double>()) << y.config;
    if (y.config != "fp16") EXPECT_EQ(x.metrics.at("ppl_fp").get<double>(), y.metrics.at("ppl_fp").get<double>());
    EXPECT_FALSE(merged.run_sources(x.id).empty());
  }
}
