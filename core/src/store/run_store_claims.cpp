// Run claims: which process computes a run. A claim is the run row itself in status "running"
// with an owner ("host pid token") and a heartbeat (unix seconds), taken in one IMMEDIATE
// transaction so two processes never both claim the same identity.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <random>
#include <sstream>

#include "skvq/error.h"
#include "skvq/run_store.h"
#include "store/run_store_internal.h"
#include "store/sqlite_util.h"

namespace skvq {
using store::Conn;
using store::Stmt;
using store::Transaction;

namespace store {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  std::string h(buf);
  for (char& ch : h)
    if (ch == ' ') ch = '_';
  return h;
}

}  // namespace store

namespace {
using store::host_name;

struct Owner {
  std::string host, token;
  long pid = -1;
};

Owner parse_owner(const std::string& s) {
  Owner o;
  std::istringstream in(s);
  in >> o.host >> o.pid >> o.token;
  if (!in) o.pid = -1;
  return o;
}

bool process_exists(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

const std::string& RunStore::process_owner() {
  static const std::string owner = [] {
    std::random_device rd;
    std::ostringstream s;
    s << host_name() << ' ' << ::getpid() << ' ' << std::hex << rd() << rd();
    return s.str();
  }();
  return owner;
}

bool RunStore::claim_is_live(const std::string& owner, int64_t heartbeat, int64_t now) {
  // This process's own leftover claim (a session whose final write failed) is taken back: one
  // process computes one run at a time per identity (the GUI runs one job at a time).
  if (owner.empty() || owner == process_owner()) return false;
  const Owner o = parse_owner(owner);
  if (o.pid <= 0) return false;
  if (now - heartbeat > kClaimStaleSeconds) return false;
  const Owner me = parse_owner(process_owner());
  if (o.host == me.host) return process_exists(o.pid);
  return true;
}

ClaimResult RunStore::claim_run(const RunRecord& identity, OnDone on_done) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot claim " + identity.kind + " run '" + identity.config + "'";
  if (identity.kind.empty()) throw StoreError(path_ + ": " + doing + ": empty kind");
  if (identity.config.empty()) throw StoreError(path_ + ": " + doing + ": empty configuration");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  Transaction tx(c, doing);
  ClaimResult out;
  std::optional<RunRecord> found = store::find_run_in(c, identity);
  if (found && found->status == "done" && on_done == OnDone::Reuse) {
    out.state = ClaimState::Done;
    out.run = *found;
    return out;  // nothing written: the transaction rolls back
  }
  if (found && found->status == "running" && claim_is_live(found->owner, found->heartbeat, now)) {
    out.state = ClaimState::Busy;
    out.run = *found;
    return out;
  }
  if (found && !(found->status == "done" && on_done == OnDone::Rerun)) {
    Stmt s(c, "UPDATE runs SET status = 'running', owner = ?2, heartbeat = ?3, host = ?4 WHERE id = ?1",
           doing);
    s.bind(1, found->id).bind(2, process_owner()).bind(3, now).bind(4, store::host_name());
    s.run();
    out.previous_status = found->status;
    out.run = *found;
  } else {
    RunRecord r = identity;
    r.status = "running";
    r.owner = process_owner();
    r.heartbeat = now;
    r.metrics = nlohmann::json::object();
    r.wall_seconds = 0;
    r.software_version.clear();
    r.created_at.clear();
    r.host.clear();
    r.id = store::insert_run(c, r, doing);
    if (r.software_version.empty()) r.software_version = SKVQ_VERSION;
    out.run = r;
  }
  out.run.status = "running";
  out.run.owner = process_owner();
  out.run.heartbeat = now;
  out.run.host = store::host_name();
  tx.commit();
  out.state = ClaimState::Claimed;
  return out;
}

void RunStore::heartbeat_run(int64_t id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot record the heartbeat of run " + std::to_string(id);
  Transaction tx(c, doing);
  Stmt s(c, "UPDATE runs SET heartbeat = ?2 WHERE id = ?1", doing);
  s.bind(1, id).bind(2, static_cast<int64_t>(std::time(nullptr)));
  s.run();
  tx.commit();
}

}  // namespace skvq
