// Run store claims (one live process per run) and concurrent connections.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "run_store_fixtures.h"
#include "skvq/error.h"
#include "skvq/run_store.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using skvq::RunStore;
using namespace skvq::test;

namespace {


// The pid of a process that has exited (and been reaped): certainly not alive.
long dead_pid() {
  pid_t p = fork();
  if (p == 0) _exit(0);
  int st = 0;
  waitpid(p, &st, 0);
  return static_cast<long>(p);
}

std::string host_of_this_process() {
  const std::string& me = RunStore::process_owner();
  return me.substr(0, me.find(' '));
}


}  // namespace

TEST(RunStore, TwoConnectionsConcurrentWriters) {
  const std::string path = skvq::test::temp_dir("store") + "/runs.sqlite";
  int64_t m = 0;
  { RunStore s(path); m = s.upsert_model(model_rec("m", "sha")); }
  auto writer = [&](int tag) {
    RunStore s(path);
    for (int i = 0; i < 20; ++i) s.add_run(ppl_run(m, "k" + std::to_string(tag) + "-run", i));
  };
  std::thread a(writer, 2), b(writer, 4);
  a.join();
  b.join();
  RunStore s(path);
  EXPECT_EQ(s.list_runs().size(), 40u);
  EXPECT_EQ(s.list_runs({"", std::nullopt, "k2-"}).size(), 20u);
}

// The command line, when it has been built (skvq links every subcommand of the project).

TEST(RunStoreClaims, LiveClaimsAreBusyDeadOrStaleOnesAreTakenOver) {
  const std::string path = skvq::test::temp_dir("store") + "/runs.sqlite";
  RunStore s(path);
  const int64_t m = s.upsert_model(model_rec("m", "sha"));
  auto ident = ppl_run(m, "k2-v2-g8", 0);
  ident.metrics = json::object();

  auto c1 = s.claim_run(ident);
  ASSERT_EQ(c1.state, skvq::ClaimState::Claimed);
  EXPECT_EQ(c1.previous_status, "");
  EXPECT_EQ(c1.run.owner, RunStore::process_owner());
  auto stored = s.get_run(c1.run.id);
  EXPECT_EQ(stored->status, "running");
  EXPECT_EQ(stored->owner, RunStore::process_owner());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  EXPECT_GE(stored->heartbeat, now - 5);

  RawDb raw(path);
  auto set_owner = [&](const std::string& owner, int64_t heartbeat) {
    ASSERT_EQ(raw.exec("UPDATE runs SET owner = '" + owner + "', heartbeat = " + std::to_string(heartbeat) +
                       " WHERE id = " + std::to_string(c1.run.id)),
              SQLITE_OK);
  };
  const std::string host = host_of_this_process();
  // Another live process on this host (our parent), fresh heartbeat: busy.
  set_owner(host + " " + std::to_string(getppid()) + " other", now);
  auto busy = s.claim_run(ident);
  EXPECT_EQ(busy.state, skvq::ClaimState::Busy);
  EXPECT_EQ(busy.run.id, c1.run.id);
  EXPECT_EQ(s.get_run(c1.run.id)->owner, host + " " + std::to_string(getppid()) + " other");  // untouched
  // Its process has exited: taken over at once, same run (its items are kept).
  s.put_item({c1.run.id, "done-part", 1});
  set_owner(host + " " + std::to_string(dead_pid()) + " other", now);
  auto taken = s.claim_run(ident);
  EXPECT_EQ(taken.state, skvq::ClaimState::Claimed);
  EXPECT_EQ(taken.run.id, c1.run.id);
  EXPECT_EQ(taken.previous_status, "running");
  EXPECT_EQ(s.get_run(c1.run.id)->owner, RunStore::process_owner());
  EXPECT_EQ(s.item_count(c1.run.id), 1);
  // Live process but no heartbeat for longer than the bound: stale.
  set_owner(host + " " + std::to_string(getppid()) + " other", now - skvq::kClaimStaleSeconds - 10);
  EXPECT_EQ(s.claim_run(ident).state, skvq::ClaimState::Claimed);
  // Another host: only the heartbeat tells.
  set_owner("elsewhere.example 1 other", now);
  EXPECT_EQ(s.claim_run(ident).state, skvq::ClaimState::Busy);
  set_owner("elsewhere.example 1 other", now - skvq::kClaimStaleSeconds - 10);
  EXPECT_EQ(s.claim_run(ident).state, skvq::ClaimState::Claimed);

  // Failed and interrupted runs are claimed again (resumed); done runs as on_done says.
  s.finish_run(c1.run.id, "interrupted", json::object(), 1.0);
  auto resumed = s.claim_run(ident);
  EXPECT_EQ(resumed.state, skvq::ClaimState::Claimed);
  EXPECT_EQ(resumed.previous_status, "interrupted");
  EXPECT_EQ(resumed.run.id, c1.run.id);
  s.finish_run(c1.run.id, "done", {{"ppl", 5.0}}, 2.0);
  auto done = s.claim_run(ident, skvq::OnDone::Reuse);
  EXPECT_EQ(done.state, skvq::ClaimState::Done);
  EXPECT_DOUBLE_EQ(done.run.metrics["ppl"].get<double>(), 5.0);
  EXPECT_EQ(s.get_run(c1.run.id)->status, "done");
  auto again = s.claim_run(ident, skvq::OnDone::Resume);
  EXPECT_EQ(again.state, skvq::ClaimState::Claimed);
  EXPECT_EQ(again.run.id, c1.run.id);
  s.finish_run(c1.run.id, "done", {{"ppl", 5.0}}, 2.0);
  auto rerun = s.claim_run(ident, skvq::OnDone::Rerun);
  EXPECT_EQ(rerun.state, skvq::ClaimState::Claimed);
  EXPECT_GT(rerun.run.id, c1.run.id);
  EXPECT_EQ(s.list_runs().size(), 2u);
}

TEST(RunStoreClaims, ClaimIsLiveRules) {
  const int64_t now = 1000000;
  const std::string host = host_of_this_process();
  EXPECT_FALSE(RunStore::claim_is_live("", now, now));
  EXPECT_FALSE(RunStore::claim_is_live(RunStore::process_owner(), now, now));  // our own leftover
  EXPECT_FALSE(RunStore::claim_is_live("garbage", now, now));
  EXPECT_TRUE(RunStore::claim_is_live(host + " " + std::to_string(getppid()) + " t", now, now));
  EXPECT_FALSE(RunStore::claim_is_live(host + " " + std::to_string(dead_pid()) + " t", now, now));
  EXPECT_TRUE(RunStore::claim_is_live("other-host 5 t", now - skvq::kClaimStaleSeconds, now));
  EXPECT_FALSE(RunStore::claim_is_live("other-host 5 t", now - skvq::kClaimStaleSeconds - 1, now));
}

// A write that meets another process's lock waits for it (here 6 s, past the 5 s after which
// the store used to give up and lose the run) and succeeds once it is released.
