// Shards of a batch job: the stable order of its work units and the split "unit k in shard k mod N".
#include "skvq/batch_shard.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "skvq/error.h"

namespace skvq {

namespace {

// A non-negative decimal integer (no sign, no spaces, at most 12 digits), or -1.
int64_t parse_count(const std::string& s) {
  if (s.empty() || s.size() > 12) return -1;
  int64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return -1;
    v = v * 10 + (ch - '0');
  }
  return v;
}

}  // namespace

ShardSpec parse_shard(const std::string& text) {
  const std::string usage = "--shard '" + text + "': expected I/N with 0 <= I < N (e.g. 0/4)";
  const size_t slash = text.find('/');
  if (slash == std::string::npos) throw ConfigError(usage);
  const int64_t i = parse_count(text.substr(0, slash));
  const int64_t n = parse_count(text.substr(slash + 1));
  if (i < 0 || n < 0) throw ConfigError(usage);
  if (n < 1) throw ConfigError("--shard '" + text + "': the shard count N must be at least 1");
  if (i >= n)
    throw ConfigError("--shard '" + text + "': shard index " + std::to_string(i) + " is not below the count " +
                      std::to_string(n) + " (shards are numbered 0 to N-1, as Slurm's --array=0-" +
                      std::to_string(n - 1) + ")");
  return {i, n};
}

std::vector<QuantConfig> distinct_configs(const std::vector<std::string>& configs) {
  std::vector<QuantConfig> out;
  for (const auto& s : configs) {
    QuantConfig c = QuantConfig::parse(s);
    bool seen = false;
    for (const auto& d : out) seen = seen || d == c;
    if (!seen) out.push_back(c);
  }
  return out;
}

std::vector<WorkUnit> batch_units(const std::vector<std::string>& configs) {
  std::vector<WorkUnit> units;
  int64_t last_unquantized = -1;
  for (const QuantConfig& c : distinct_configs(configs)) {
    WorkUnit u;
    u.index = static_cast<int64_t>(units.size());
    u.kind = "ppl";
    u.config = c.to_string();
    u.unquantized = c.is_unquantized();
    u.reference = last_unquantized;  // what ppl_fp holds when run_ppl_job reaches this unit
    if (u.unquantized) last_unquantized = u.index;
    units.push_back(u);
  }
  return units;
}

int64_t shard_of(int64_t unit_index, int64_t shard_count) { return unit_index % shard_count; }

std::vector<size_t> shard_units(const std::vector<WorkUnit>& units, const ShardSpec& shard) {
  std::vector<size_t> out;
  for (size_t i = 0; i < units.size(); ++i)
    if (shard_of(units[i].index, shard.count) == shard.index) out.push_back(i);
  return out;
}

std::vector<size_t> prepare_units(const std::vector<WorkUnit>& units) {
  std::vector<bool> needed(units.size(), false);
  for (const auto& u : units)
    if (u.reference >= 0) needed[static_cast<size_t>(u.reference)] = true;
  std::vector<size_t> out;
  for (size_t i = 0; i < units.size(); ++i)
    if (needed[i]) out.push_back(i);
  return out;
}

std::string format_plan(const std::vector<WorkUnit>& units, int64_t shard_count, std::optional<int64_t> mark) {
  std::ostringstream s;
  s << "units " << units.size() << "\nshards " << shard_count << "\n";
  size_t width = 13;
  for (const auto& u : units) width = std::max(width, u.config.size());
  char line[512];
  std::snprintf(line, sizeof line, "%5s %6s %-5s %-*s %s\n", "unit", "shard", "kind", static_cast<int>(width),
                "configuration", "reference");
  s << line;
  for (const auto& u : units) {
    const int64_t shard = shard_of(u.index, shard_count);
    const std::string ref = u.reference >= 0 ? std::to_string(u.reference) : "-";
    std::snprintf(line, sizeof line, "%5lld %6lld %-5s %-*s %s%s\n", static_cast<long long>(u.index),
                  static_cast<long long>(shard), u.kind.c_str(), static_cast<int>(width), u.config.c_str(),
                  ref.c_str(), mark && *mark == shard ? " *" : "");
    s << line;
  }
  return s.str();
}

}  // namespace skvq
