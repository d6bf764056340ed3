// The shared run protocol (claim, resume, items, heartbeat, final status) and recovery files.
#include "skvq/run_session.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace skvq {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kHeartbeatSeconds = 30;
constexpr int kEndLockWaitMs = 2000;  // fail/interrupt after a store failure: do not wait long

std::string compact_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

bool write_file(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
  f.flush();
  return f.good();
}

json run_json(const RunRecord& r) {
  return {{"id", r.id},
          {"kind", r.kind},
          {"model_id", r.model_id},
          {"calibration_id", r.calibration_id ? json(*r.calibration_id) : json(nullptr)},
          {"config", r.config},
          {"data_path", r.data_path},
          {"data_sha256", r.data_sha256},
          {"params", r.params}};
}

}  // namespace

std::string write_recovery_file(const std::string& store_path, const json& content) {
  static std::atomic<int> serial{0};
  const std::string name = fs::path(store_path).filename().string() + ".recovered-" + compact_utc() +
                           "-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) +
                           ".json";
  const std::string text = content.dump(2) + "\n";
  std::error_code ec;
  fs::path dir = fs::absolute(store_path, ec).parent_path();
  if (!dir.empty() && write_file(dir / name, text)) return (dir / name).string();
  const char* tmp = std::getenv("TMPDIR");
  dir = tmp && *tmp ? fs::path(tmp) : fs::path("/tmp");
  if (write_file(dir / name, text)) return (dir / name).string();
  return {};
}

RunSession::RunSession(RunStore& store, RunRecord identity, OnDone on_done, bool wait,
                       CancelFlag cancel)
    : store_(store), run_(std::move(identity)) {
  double pause = 0.2;
  for (;;) {
    ClaimResult c = store_.claim_run(run_, on_done);
    state_ = c.state;
    previous_status_ = c.previous_status;
    if (c.state != ClaimState::Busy || !wait) {
      run_ = c.run;
      break;
    }
    throw_if_cancelled(cancel);
    std::this_thread::sleep_for(std::chrono::duration<double>(pause));
    throw_if_cancelled(cancel);
    pause = std::min(5.0, pause * 1.5);
  }
  t0_ = now_seconds();
  if (state_ == ClaimState::Claimed) {
    prior_wall_ = run_.wall_seconds;  // 0 for a new run; earlier attempts' time when resumed
    start_heartbeat();
  }
}

RunSession::~RunSession() {
  stop_heartbeat();
  if (claimed()) end_best_effort("failed", {{"error", "abandoned: the run ended without a result"}});
}

double RunSession::total_wall_seconds() const { return prior_wall_ + (now_seconds() - t0_); }

std::vector<RunItem> RunSession::items() { return store_.items(run_.id); }

void RunSession::put_item(const std::string& key, const json& data) {
  written_.emplace_back(key, data);
  try {
    store_.put_item({run_.id, key, data});
  } catch (const StoreError& e) {
    recover_and_throw(e, nullptr);
  }
}

void RunSession::finish(const json& metrics, double wall_seconds) {
  stop_heartbeat();
  try {
    store_.finish_run(run_.id, "done", metrics, wall_seconds);
  } catch (const StoreError& e) {
    recover_and_throw(e, metrics);
  }
  ended_ = true;
  run_.status = "done";
  run_.metrics = metrics;
  run_.wall_seconds = wall_seconds;
}

void RunSession::fail(const std::string& message, json extra) {
  if (!claimed()) return;
  if (!extra.is_object()) extra = json::object();
  extra["error"] = message;
  end_best_effort("failed", extra);
}

void RunSession::interrupt() {
  if (!claimed()) return;
  end_best_effort("interrupted", json::object());
}

void RunSession::end_best_effort(const std::string& status, const json& metrics) {
  stop_heartbeat();
  ended_ = true;
  run_.status = status;
  run_.metrics = metrics;
  const int keep = store_.busy_timeout();
  store_.set_busy_timeout(std::min(keep, kEndLockWaitMs));
  try {
    store_.finish_run(run_.id, status, metrics, total_wall_seconds());
  } catch (const std::exception&) {
    // The claim stays "running"; once this process is gone it is stale and reclaimed.
  }
  store_.set_busy_timeout(keep);
}

void RunSession::recover_and_throw(const StoreError& e, const json& metrics) {
  json content = {{"store", store_.path()},
                  {"error", e.what()},
                  {"run", run_json(run_)},
                  {"software_version", run_.software_version},
                  {"created_at", utc_now_iso8601()},
                  {"wall_seconds", total_wall_seconds()}};
  json items = json::object();
  for (const auto& [k, v] : written_) items[k] = v;
  content["items"] = items;
  if (!metrics.is_null()) content["metrics"] = metrics;
  const std::string file = write_recovery_file(store_.path(), content);
  std::fprintf(stderr, "skvq: %s\n",
               file.empty() ? "could not write a recovery file for the computed results either"
                            : ("the computed results of run " + std::to_string(run_.id) +
                               " were saved to " + file)
                                  .c_str());
  throw StoreError(std::string(e.what()) +
                   (file.empty() ? std::string("; the computed results could not be saved")
                                 : "; the computed results were saved to " + file));
}

void RunSession::start_heartbeat() {
  const std::string path = store_.path();
  const int64_t id = run_.id;
  heartbeat_ = std::thread([this, path, id] {
    std::unique_ptr<RunStore> own;
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(kHeartbeatSeconds), [this] { return stop_; })) {
      lock.unlock();
      try {
        if (!own) own = std::make_unique<RunStore>(path, kEndLockWaitMs);
        own->heartbeat_run(id);
      } catch (const std::exception&) {
        // A missed heartbeat only matters after kClaimStaleSeconds of them.
      }
      lock.lock();
    }
  });
}

void RunSession::stop_heartbeat() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

}  // namespace skvq
