#pragma once
// The run protocol every run kind (ppl, needle, longbench, analyze) follows in the store:
// claim the run (or reuse a done one, or resume an unfinished one), store its items, keep the
// claim alive, and end it as "done", "failed" (with the message) or "interrupted". A computed
// result the store cannot take is written to a recovery file instead of being lost.
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/run_store.h"

namespace skvq {

/// Writes `content` (the run's identity, what was computed, the error) as JSON next to the
/// store: "<store>.recovered-<UTC time>-<pid>-<n>.json", or in $TMPDIR (else /tmp) when the
/// store's directory cannot be written. Returns the file written; "" when none could be.
std::string write_recovery_file(const std::string& store_path, const nlohmann::json& content);

/// One run's life in the store. Heartbeats the claim from a background thread (its own
/// connection, every 30 s) while it is held. Use one session per run, on one thread.
class RunSession {
 public:
  /// Claims `identity` (RunStore::claim_run with `on_done`). When another live process holds
  /// the claim: with `wait`, polls (0.2 s growing to 5 s) until it is done or stale, throwing
  /// Cancelled when `cancel` is set; without, busy() is true and nothing is held.
  RunSession(RunStore& store, RunRecord identity, OnDone on_done, bool wait,
             CancelFlag cancel = nullptr);
  /// Stops the heartbeat. A claim still held (neither finished, failed nor interrupted) is
  /// marked failed ("abandoned"); errors are swallowed.
  ~RunSession();
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  /// A done run was reused: run() holds the stored result, nothing is to be computed.
  bool reused() const { return state_ == ClaimState::Done; }
  /// Another process computes it (only without `wait`): run() names it, nothing is held.
  bool busy() const { return state_ == ClaimState::Busy; }
  /// This process holds the claim and must compute the run.
  bool claimed() const { return state_ == ClaimState::Claimed && !ended_; }
  /// The run (its id, identity, and for reused() its metrics).
  const RunRecord& run() const { return run_; }
  int64_t id() const { return run_.id; }
  /// Status before this claim took the run ("" new, "interrupted", "failed", "running", "done").
  const std::string& previous_status() const { return previous_status_; }
  /// Wall seconds stored by earlier attempts plus the time since this claim.
  double total_wall_seconds() const;

  /// The items already stored (a resumed run). Throws StoreError.
  std::vector<RunItem> items();
  /// Stores one item. When the store fails, writes a recovery file (this session's items and
  /// identity) and throws StoreError naming it.
  void put_item(const std::string& key, const nlohmann::json& data);
  /// Ends the run as "done" with `metrics`; on a store failure as put_item.
  void finish(const nlohmann::json& metrics, double wall_seconds);
  /// Ends the run as "failed", metrics `extra` plus {"error": message}. Best effort (a short
  /// lock wait; a store failure is swallowed: the claim then goes stale and is reclaimed).
  void fail(const std::string& message, nlohmann::json extra = nlohmann::json::object());
  /// Ends the run as "interrupted" (its items are kept for a resume). Best effort as fail().
  void interrupt();

  /// Runs `body`; Cancelled ends the run interrupted, any other exception failed with its
  /// message; the exception is rethrown.
  template <class F>
  void guard(F&& body) {
    try {
      body();
    } catch (const Cancelled&) {
      interrupt();
      throw;
    } catch (const std::exception& e) {
      fail(e.what());
      throw;
    }
  }

 private:
  void end_best_effort(const std::string& status, const nlohmann::json& metrics);
  [[noreturn]] void recover_and_throw(const StoreError& e, const nlohmann::json& metrics);
  void start_heartbeat();
  void stop_heartbeat();

  RunStore& store_;
  RunRecord run_;
  ClaimState state_ = ClaimState::Claimed;
  std::string previous_status_;
  bool ended_ = false;
  double prior_wall_ = 0, t0_ = 0;
  std::vector<std::pair<std::string, nlohmann::json>> written_;  ///< items this session stored
  std::thread heartbeat_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace skvq
