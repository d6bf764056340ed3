// Run store exports: CSV and JSON.
#include <map>
#include <set>
#include <sstream>

#include "skvq/run_store.h"

namespace skvq {
using nlohmann::json;

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

std::string csv_value(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();  // numbers (round-trip precision), booleans, arrays, objects
}

}  // namespace

std::string RunStore::export_csv(const std::vector<RunRecord>& runs) {
  std::map<int64_t, std::string> model_names;
  for (const auto& m : list_models()) model_names[m.id] = m.name;
  std::set<std::string> metric_keys;
  for (const auto& r : runs)
    if (r.metrics.is_object())
      for (auto it = r.metrics.begin(); it != r.metrics.end(); ++it)
        if (it.key() != "wall_seconds" && it.key() != "status") metric_keys.insert(it.key());  // fixed columns

  std::ostringstream out;
  out << "id,kind,model,config,calibration_id,data_path,created_at,wall_seconds,status";
  for (const auto& k : metric_keys) out << ',' << csv_field(k);
  out << '\n';
  for (const auto& r : runs) {
    auto name = model_names.find(r.model_id);
    out << r.id << ',' << csv_field(r.kind) << ','
        << csv_field(name != model_names.end() ? name->second : std::to_string(r.model_id))
        << ',' << csv_field(r.config) << ','
        << (r.calibration_id ? std::to_string(*r.calibration_id) : std::string()) << ','
        << csv_field(r.data_path) << ',' << csv_field(r.created_at) << ','
        << json(r.wall_seconds).dump() << ',' << csv_field(r.status);
    for (const auto& k : metric_keys) {
      out << ',';
      if (r.metrics.is_object() && r.metrics.contains(k)) out << csv_field(csv_value(r.metrics[k]));
    }
    out << '\n';
  }
  return out.str();
}

json RunStore::export_json(const std::vector<RunRecord>& runs, bool with_items) {
  std::map<int64_t, std::string> model_names;
  for (const auto& m : list_models()) model_names[m.id] = m.name;
  json arr = json::array();
  for (const auto& r : runs) {
    json o = json::object();
    o["id"] = r.id;
    o["kind"] = r.kind;
    o["model_id"] = r.model_id;
    auto name = model_names.find(r.model_id);
    o["model"] = name != model_names.end() ? json(name->second) : json(nullptr);
    o["calibration_id"] = r.calibration_id ? json(*r.calibration_id) : json(nullptr);
    o["config"] = r.config;
    o["data_path"] = r.data_path;
    o["data_sha256"] = r.data_sha256;
    o["params"] = r.params;
    o["metrics"] = r.metrics;
    o["status"] = r.status;
    o["software_version"] = r.software_version;
    o["created_at"] = r.created_at;
    o["wall_seconds"] = r.wall_seconds;
    if (with_items) {
      json items = json::object();
      for (const auto& it : this->items(r.id)) items[it.key] = it.data;
      o["items"] = std::move(items);
    }
    arr.push_back(std::move(o));
  }
  return arr;
}

}  // namespace skvq
