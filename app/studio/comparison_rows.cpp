#include "comparison_rows.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

namespace skvq::studio {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double number(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : kNaN;
}

std::string param_string(const RunRecord& r, const char* key, const std::string& fallback) {
  return r.params.contains(key) && r.params[key].is_string() ? r.params[key].get<std::string>() : fallback;
}

int64_t param_int(const RunRecord& r, const char* key) {
  return r.params.contains(key) && r.params[key].is_number() ? r.params[key].get<int64_t>() : 0;
}

bool compared(const RunRecord& r) { return (r.kind == "ppl" || r.kind == "peer") && r.status == "done"; }

std::string protocol_of(const RunRecord& r) { return param_string(r, "protocol", "reference"); }

int64_t tokens_of(const RunRecord& r) {
  const double t = number(r.metrics, "tokens");
  return std::isfinite(t) ? static_cast<int64_t>(t) : 0;
}

}  // namespace

std::string settings_key(const RunRecord& r) {
  return r.data_sha256 + "|skip" + std::to_string(param_int(r, "skip_bytes")) + "|ctx" +
         std::to_string(param_int(r, "ctx_len")) + "|tok" + std::to_string(tokens_of(r)) + "|" + protocol_of(r);
}

std::string settings_label(const RunRecord& r) {
  std::string label = "ctx " + std::to_string(param_int(r, "ctx_len")) + " · " + std::to_string(tokens_of(r)) +
                      " tokens · " + protocol_of(r) + " protocol · text " +
                      std::filesystem::path(r.data_path).filename().string();
  if (param_int(r, "skip_bytes") > 0) label += " from byte " + std::to_string(param_int(r, "skip_bytes"));
  if (!r.data_sha256.empty()) label += " (sha " + r.data_sha256.substr(0, 8) + ")";
  return label;
}

std::vector<SettingsGroup> settings_groups(const std::vector<RunRecord>& runs) {
  std::vector<SettingsGroup> groups;
  std::map<std::string, size_t> index;
  for (const RunRecord& r : runs) {
    if (!compared(r)) continue;
    const std::string key = settings_key(r);
    auto [it, added] = index.emplace(key, groups.size());
    if (added) groups.push_back({key, settings_label(r), 0, r});
    // Prefer one of our own runs as the example: its params carry max_bytes and max_chunks.
    if (r.kind == "ppl" && groups[it->second].example.kind != "ppl") groups[it->second].example = r;
    ++groups[it->second].count;
  }
  std::stable_sort(groups.begin(), groups.end(), [](const SettingsGroup& a, const SettingsGroup& b) { return a.count > b.count; });
  return groups;
}

std::vector<ComparisonRow> comparison_rows(const std::vector<RunRecord>& runs, const std::string& key,
                                           const std::vector<CalibrationRecord>& calibrations) {
  std::vector<ComparisonRow> rows;
  for (const RunRecord& r : runs) {
    if (!compared(r) || settings_key(r) != key) continue;
    ComparisonRow row;
    row.run_id = r.id;
    row.peer = r.kind == "peer";
    row.system = row.peer ? param_string(r, "system", "peer") : "skvq";
    row.version = row.peer ? param_string(r, "version", "") : "";
    row.config = r.config;
    for (const CalibrationRecord& c : calibrations)
      if (r.calibration_id && c.id == *r.calibration_id) row.calibration = std::filesystem::path(c.path).filename().string();
    row.ppl = number(r.metrics, "ppl");
    row.bits_k = number(r.metrics, "bits_k");
    row.bits_v = number(r.metrics, "bits_v");
    row.kv_bytes_per_token = number(r.metrics, "kv_bytes_per_token");
    row.tokens = number(r.metrics, "tokens");
    row.unquantized = row.bits_k >= 16 && row.bits_v >= 16;
    rows.push_back(row);
  }
  std::map<std::string, double> baseline;  // system -> PPL of its first unquantized row
  for (const ComparisonRow& row : rows)
    if (row.unquantized && std::isfinite(row.ppl)) baseline.emplace(row.system, row.ppl);
  for (ComparisonRow& row : rows) {
    const auto it = baseline.find(row.system);
    row.has_baseline = it != baseline.end();
    row.delta_ppl = row.has_baseline ? row.ppl - it->second : kNaN;
  }
  return rows;
}

}  // namespace skvq::studio
