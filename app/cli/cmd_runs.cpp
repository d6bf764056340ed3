// skvq runs: list, show, export and delete the runs of the run store (--db).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "commands.h"
#include "skvq/error.h"
#include "skvq/run_store.h"

namespace skvq::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// The store named by --db; read commands do not create one and open it read-only (so a store
// on a read-only disk or directory can be listed).
std::unique_ptr<RunStore> open_existing_store(StoreMode mode = StoreMode::ReadOnly) {
  const std::string& db = globals().db;
  std::error_code ec;
  if (!fs::exists(db, ec))
    throw StoreError(db + ": no run store here (evaluations create it; pass --db to choose another)");
  return std::make_unique<RunStore>(db, RunStore::default_lock_timeout_ms(), mode);
}

std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string fmt_number(const json& v, int decimals, bool trim) {
  if (!v.is_number()) return v.is_null() ? "-" : (v.is_string() ? v.get<std::string>() : v.dump());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v.get<double>());
  return trim ? trim_zeros(buf) : std::string(buf);
}

std::string metric(const RunRecord& r, const char* key, int decimals, bool trim) {
  if (!r.metrics.is_object() || !r.metrics.contains(key)) return "-";
  return fmt_number(r.metrics[key], decimals, trim);
}

// The headline score of a run that has no perplexity.
std::string score(const RunRecord& r) {
  for (const char* k : {"mean_rougeL_f", "average", "mean_agreement_rougeL", "rel_error"})
    if (r.metrics.is_object() && r.metrics.contains(k) && r.metrics[k].is_number())
      return fmt_number(r.metrics[k], 4, false);
  return "-";
}

// "2024-01-02T03:04:05Z" -> "2024-01-02 03:04".
std::string short_time(const std::string& iso) {
  if (iso.size() >= 16 && iso[10] == 'T') return iso.substr(0, 10) + " " + iso.substr(11, 5);
  return iso;
}

void print_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::vector<size_t> width(rows.empty() ? 0 : rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const std::string& cell = rows[r][c];
      std::string pad(width[c] - cell.size(), ' ');
      if (c) line += "  ";
      line += right[c] ? pad + cell : cell + (c + 1 < rows[r].size() ? pad : std::string());
    }
    std::cout << line << "\n";
    if (r == 0) {
      std::string rule;
      for (size_t c = 0; c < width.size(); ++c) rule += (c ? "  " : "") + std::string(width[c], '-');
      std::cout << rule << "\n";
    }
  }
}

// Runs of `kind` (may be empty) and of the model given as an id or a name (may be empty).
std::vector<RunRecord> select_runs(RunStore& store, const std::string& kind, const std::string& model) {
  if (model.empty()) return store.list_runs({kind, std::nullopt, ""});
  std::vector<int64_t> ids;
  if (model.find_first_not_of("0123456789") == std::string::npos) {
    ids.push_back(std::stoll(model));
  } else {
    for (const auto& m : store.list_models())
      if (m.name == model) ids.push_back(m.id);
    if (ids.empty())
      throw skvq::ConfigError("--model " + model + ": no model of that name in " + store.path() +
                        " (give a name or an id from the model column of 'skvq runs list')");
  }
  std::vector<RunRecord> out;
  for (int64_t id : ids)
    for (auto& r : store.list_runs({kind, id, ""})) out.push_back(std::move(r));
  std::sort(out.begin(), out.end(), [](const RunRecord& a, const RunRecord& b) { return a.id < b.id; });
  return out;
}

void write_output(const std::string& text, const std::string& out_path, size_t runs) {
  if (out_path.empty()) {
    std::cout << text;
    return;
  }
  std::ofstream f(out_path, std::ios::binary);
  if (f) f << text;
  if (!f) throw FileError(out_path, "cannot be written");
  std::cerr << "wrote " << runs << " run" << (runs == 1 ? "" : "s") << " to " << out_path << "\n";
}

}  // namespace

void add_runs_command(CLI::App& app) {
  auto* runs = app.add_subcommand("runs", "list, show, export and delete stored runs (see --db)");
  runs->require_subcommand(1);

  // runs list
  struct ListOptions {
    std::string kind, model;
    bool json = false;
  };
  auto lo = std::make_shared<ListOptions>();
  auto* list = runs->add_subcommand("list", "one line per run: id, kind, model, config, ppl, bits, score");
  list->add_option("--kind", lo->kind, "only runs of this kind (ppl, needle, longbench, analyze, ...)");
  list->add_option("--model", lo->model, "only runs of this model (id or name)");
  list->add_flag("--json", lo->json, "print the runs as a JSON array");
  list->callback([lo] {
    auto store = open_existing_store();
    auto rs = select_runs(*store, lo->kind, lo->model);
    if (lo->json) {
      std::cout << store->export_json(rs, false).dump(2) << "\n";
      return;
    }
    if (rs.empty()) {
      std::cout << "no runs in " << store->path() << "\n";
      return;
    }
    std::map<int64_t, std::string> names;
    for (const auto& m : store->list_models()) names[m.id] = m.name;
    std::vector<std::vector<std::string>> rows{
        {"id", "kind", "model", "config", "ppl", "bits_k", "bits_v", "score", "status", "created"}};
    for (const auto& r : rs) {
      auto n = names.find(r.model_id);
      rows.push_back({std::to_string(r.id), r.kind, n != names.end() ? n->second : std::to_string(r.model_id),
                      r.config, metric(r, "ppl", 4, false), metric(r, "bits_k", 4, true),
                      metric(r, "bits_v", 4, true), score(r), r.status, short_time(r.created_at)});
    }
    print_table(rows, {true, false, false, false, true, true, true, true, false, false});
  });

  // runs show
  struct ShowOptions {
    int64_t id = 0;
    bool json = false, items = false;
  };
  auto so = std::make_shared<ShowOptions>();
  auto* show = runs->add_subcommand("show", "everything stored about one run");
  show->add_option("id", so->id, "run id")->required();
  show->add_flag("--json", so->json, "print the run as JSON");
  show->add_flag("--items", so->items, "include every item of the run");
  show->callback([so] {
    auto store = open_existing_store();
    auto r = store->get_run(so->id);
    if (!r) throw StoreError(store->path() + ": no run " + std::to_string(so->id));
    const int64_t n_items = store->item_count(r->id);
    if (so->json) {
      json j = store->export_json({*r}, so->items)[0];
      j["items_count"] = n_items;
      std::cout << j.dump(2) << "\n";
      return;
    }
    auto m = store->get_model(r->model_id);
    std::cout << "run " << r->id << "  " << r->kind << "  (" << r->status << ")\n";
    auto field = [](const std::string& k, const std::string& v) {
      std::cout << "  " << k << std::string(k.size() < 18 ? 18 - k.size() : 1, ' ') << v << "\n";
    };
    field("model", m ? m->name + " (id " + std::to_string(m->id) + ", " + m->path + ")"
                     : "id " + std::to_string(r->model_id));
    if (r->calibration_id) {
      auto c = store->get_calibration(*r->calibration_id);
      field("calibration", std::to_string(*r->calibration_id) + (c ? " (" + c->path + ")" : std::string()));
    } else {
      field("calibration", "-");
    }
    field("config", r->config);
    field("data", r->data_path.empty() ? "-" : r->data_path + (r->data_sha256.empty() ? "" : " (sha256 " + r->data_sha256.substr(0, 16) + ")"));
    char wall[32];
    std::snprintf(wall, sizeof wall, "%.2f s", r->wall_seconds);
    field("created", r->created_at + " by skvq " + r->software_version + (r->host.empty() ? "" : " on " + r->host));
    for (const RunSource& src : store->run_sources(r->id))
      field("merged from", src.source + " run " + std::to_string(src.source_run_id) +
                               (src.host.empty() ? "" : " (" + src.host + ")"));
    field("wall time", wall);
    field("params", r->params.dump());
    std::cout << "  metrics\n";
    if (r->metrics.is_object())
      for (auto it = r->metrics.begin(); it != r->metrics.end(); ++it)
        field("  " + it.key(), it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    field("items", std::to_string(n_items) + (n_items && !so->items ? " (--items lists them)" : ""));
    if (so->items)
      for (const auto& it : store->items(r->id)) std::cout << "    " << it.key << "  " << it.data.dump() << "\n";
  });

  // runs export
  struct ExportOptions {
    bool csv = false, json = false, items = false;
    std::string out, kind, model;
  };
  auto eo = std::make_shared<ExportOptions>();
  auto* exp = runs->add_subcommand("export", "all runs (or one kind) as CSV or JSON");
  auto* csv_flag = exp->add_flag("--csv", eo->csv, "CSV: one row per run, one column per metric");
  auto* json_flag = exp->add_flag("--json", eo->json, "JSON array of runs");
  csv_flag->excludes(json_flag);
  json_flag->excludes(csv_flag);
  exp->add_option("--out", eo->out, "write to this file (default: standard output)");
  exp->add_option("--kind", eo->kind, "only runs of this kind");
  exp->add_option("--model", eo->model, "only runs of this model (id or name)");
  exp->add_flag("--items", eo->items, "with --json: include every run's items");
  exp->callback([eo] {
    if (!eo->csv && !eo->json) throw skvq::ConfigError("runs export: give --csv or --json");
    auto store = open_existing_store();
    auto rs = select_runs(*store, eo->kind, eo->model);
    write_output(eo->csv ? store->export_csv(rs) : store->export_json(rs, eo->items).dump(2) + "\n", eo->out,
                 rs.size());
  });

  // runs delete
  auto del_id = std::make_shared<int64_t>(0);
  auto* del = runs->add_subcommand("delete", "delete one run and its items");
  del->add_option("id", *del_id, "run id")->required();
  del->callback([del_id] {
    auto store = open_existing_store(StoreMode::ReadWrite);
    const int64_t n = store->item_count(*del_id);
    if (!store->delete_run(*del_id)) throw StoreError(store->path() + ": no run " + std::to_string(*del_id));
    std::cout << "deleted run " << *del_id << " and its " << n << " item" << (n == 1 ? "" : "s") << "\n";
  });
}

}  // namespace skvq::cli
