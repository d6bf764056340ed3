// skvq runs import: peer rows (llama.cpp, Hugging Face) into the run store as kind "peer".
#include <cctype>
#include <cmath>
#include <filesystem>

#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/peers.h"

namespace skvq {
using nlohmann::json;

namespace {

const char* kRequiredStrings[] = {"system", "version", "config", "model", "model_sha256"};
const char* kOptionalStrings[] = {"text", "text_sha256", "protocol"};
const char* kNumbers[] = {"bits_k", "bits_v", "kv_bytes_per_token", "ppl", "tokens", "ctx_len", "threads",
                          "prompt_tokens_per_s", "peak_rss_mb"};

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Throws FileError naming the file and the row when a field has the wrong type.
void check_row(const json& row, size_t i, const std::string& path) {
  const std::string where = "row " + std::to_string(i + 1) + ": ";
  if (!row.is_object()) throw FileError(path, where + "expected an object");
  for (const char* k : kRequiredStrings)
    if (!row.contains(k) || !row[k].is_string() || row[k].get<std::string>().empty())
      throw FileError(path, where + "missing or empty string field \"" + k + "\"");
  if (!is_hex64(row["model_sha256"].get<std::string>()))
    throw FileError(path, where + "\"model_sha256\" is not 64 hex digits");
  for (const char* k : kOptionalStrings)
    if (row.contains(k) && !row[k].is_null() && !row[k].is_string())
      throw FileError(path, where + "\"" + k + "\" must be a string or null");
  for (const char* k : kNumbers)
    if (row.contains(k) && !row[k].is_null() && !row[k].is_number())
      throw FileError(path, where + "\"" + k + "\" must be a number or null, got " + row[k].dump());
  if (row.contains("decode_tokens_per_s") && !row["decode_tokens_per_s"].is_null()) {
    const json& d = row["decode_tokens_per_s"];
    if (!d.is_object()) throw FileError(path, where + "\"decode_tokens_per_s\" must be an object {\"<context>\": value}");
    for (const auto& [ctx, v] : d.items())
      if (!v.is_null() && !v.is_number())
        throw FileError(path, where + "decode_tokens_per_s[\"" + ctx + "\"] must be a number or null");
  }
}

std::string str_or_empty(const json& row, const char* k) {
  return row.contains(k) && row[k].is_string() ? row[k].get<std::string>() : std::string();
}

int64_t model_id_for(RunStore& store, const json& row) {
  const std::string sha = row["model_sha256"].get<std::string>();
  for (const auto& m : store.list_models())
    if (m.sha256 == sha) return m.id;  // keep the record our own runs registered untouched
  ModelRecord m;
  m.path = row["model"].get<std::string>();
  m.name = std::filesystem::path(m.path).filename().string();
  m.sha256 = sha;
  // A model only a peer ran: known by its file alone (the peer's own tokenizer and config).
  m.identity_json = {{"weights_sha256", sha}, {"peer_model", true}};
  m.identity = sha256_hex(canonical_json(m.identity_json));
  return store.upsert_model(m);
}

RunRecord peer_run(const json& row, int64_t model_id) {
  RunRecord r;
  r.kind = "peer";
  r.model_id = model_id;
  r.config = row["config"].get<std::string>();
  r.data_path = str_or_empty(row, "text");
  r.data_sha256 = str_or_empty(row, "text_sha256");
  r.params = {{"system", row["system"]}, {"version", row["version"]}};
  for (const char* k : {"protocol", "ctx_len", "threads"})
    if (row.contains(k) && !row[k].is_null()) r.params[k] = row[k];
  for (const char* k : kNumbers) {
    const std::string key = k;
    if (key == "ctx_len" || key == "threads") continue;
    if (row.contains(k) && !row[k].is_null()) r.metrics[k] = row[k];
  }
  if (row.contains("decode_tokens_per_s") && row["decode_tokens_per_s"].is_object()) {
    json d = json::object();
    for (const auto& [ctx, v] : row["decode_tokens_per_s"].items())
      if (!v.is_null()) d[ctx] = v;
    if (!d.empty()) r.metrics["decode_tokens_per_s"] = d;
  }
  return r;
}

}  // namespace

PeerImportResult import_peers(RunStore& store, const std::string& path) {
  const json rows = parse_json_file(path);
  if (!rows.is_array()) throw FileError(path, "expected a JSON array of peer rows, got " + std::string(rows.type_name()));
  for (size_t i = 0; i < rows.size(); ++i) check_row(rows[i], i, path);
  PeerImportResult res;
  for (const auto& row : rows) {
    if (row["system"].get<std::string>() == "skvq") {
      ++res.skipped_own;
      continue;
    }
    RunRecord r = peer_run(row, model_id_for(store, row));
    if (auto found = store.find_run(r)) {
      store.finish_run(found->id, "done", r.metrics, 0);
      res.run_ids.push_back(found->id);
      ++res.updated;
    } else {
      res.run_ids.push_back(store.add_run(r));
    }
  }
  return res;
}

}  // namespace skvq
