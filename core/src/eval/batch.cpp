// Batch files: one JSON job with model, calibration, data and configurations (skvq batch).
#include <algorithm>
#include <filesystem>
#include <ostream>
#include <type_traits>

#include "skvq/batch.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/session.h"

namespace skvq {

namespace fs = std::filesystem;
using nlohmann::json;

std::string resolve_data_path(const std::string& path, const std::string& base_dir) {
  if (path.empty()) throw ConfigError("empty path in batch file");
  std::vector<fs::path> tried{fs::path(path)};
  if (fs::path(path).is_relative()) {
    if (!base_dir.empty()) tried.push_back(fs::path(base_dir) / path);
    tried.push_back(fs::path(data_dir()) / path);
    tried.push_back(fs::path(models_dir()) / path);
  }
  // The error_code overloads: a name the OS refuses (a component over NAME_MAX bytes,
  // ENAMETOOLONG, found by fuzzing) is "not found", not an uncaught filesystem_error.
  std::error_code ec;
  for (const auto& p : tried)
    if (fs::exists(p, ec)) return p.lexically_normal().string();
  std::string where;
  for (const auto& p : tried) where += (where.empty() ? "" : ", ") + p.string();
  throw FileError(path, "not found (tried " + where + "; the data directory is " + data_dir() +
                            ", the model cache " + models_dir() + ": scripts/fetch-models.sh fills it)");
}

namespace {

// Integer fields must hold JSON integers: get<int64_t>() of a float such as 1e300 is undefined
// behaviour (found by fuzzing).
template <class T>
void check_integers(const json& v, const char* key, const std::string& file) {
  if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) throw FileError(file, std::string("field \"") + key + "\" must be an integer");
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    if (v.is_array())
      for (const json& x : v) check_integers<int64_t>(x, key, file);
  }
}

template <class T>
T get_or(const json& j, const char* key, T fallback, const std::string& file) {
  if (!j.contains(key)) return fallback;
  check_integers<T>(j.at(key), key, file);
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw FileError(file, std::string("field \"") + key + "\" has the wrong type: " + e.what());
  }
}

void check_keys(const json& j, const std::string& where, std::initializer_list<const char*> known,
                const std::string& file) {
  if (!j.is_object()) throw FileError(file, "\"" + where + "\" must be a JSON object");
  for (auto& [key, _] : j.items()) {
    bool ok = false;
    std::string list;
    for (const char* k : known) {
      ok = ok || key == k;
      list += (list.empty() ? "" : ", ") + std::string(k);
    }
    if (!ok) throw FileError(file, "unknown field \"" + key + "\" in \"" + where + "\" (known: " + list + ")");
  }
}

// Makes the calibration file when it is missing, or again when it was made with other settings
// than the job asks for; returns its path.
// A shard (may_write false) never calibrates: it says how to make the file once instead.
std::string ensure_calibration(const json& cj, const std::string& job_path, const std::string& base,
                               const PplJob& job, std::ostream& log, CancelFlag cancel, bool may_write) {
  check_keys(cj, "calibration", {"file", "text", "samples", "seq_len", "group_sizes", "seed", "max_bytes"}, job_path);
  const std::string file = get_or<std::string>(cj, "file", "", job_path);
  if (file.empty()) throw FileError(job_path, "\"calibration\" needs a \"file\"");
  std::string existing;
  std::error_code ec;  // a name the OS refuses counts as missing (see resolve_data_path)
  if (fs::exists(file, ec)) existing = file;
  else if (!base.empty() && fs::path(file).is_relative() && fs::exists(fs::path(base) / file, ec))
    existing = (fs::path(base) / file).string();
  if (!cj.contains("text")) {
    if (existing.empty()) throw FileError(job_path, "calibration file " + file + " is missing and no \"text\" is given to make it");
    return existing;
  }
  const std::string text = resolve_data_path(get_or<std::string>(cj, "text", "", job_path), base);
  CalibrationOptions opt;
  opt.samples = get_or<int64_t>(cj, "samples", opt.samples, job_path);
  opt.seq_len = get_or<int64_t>(cj, "seq_len", opt.seq_len, job_path);
  opt.group_sizes = get_or<std::vector<int64_t>>(cj, "group_sizes", opt.group_sizes, job_path);
  opt.seed = get_or<uint64_t>(cj, "seed", opt.seed, job_path);
  const int64_t max_bytes = get_or<int64_t>(cj, "max_bytes", 0, job_path);
  if (max_bytes < 0) throw FileError(job_path, "\"calibration\".\"max_bytes\" must be >= 0 (0 = all)");
  const std::string text_sha = sha256_hex(read_text(text, max_bytes));
  if (!existing.empty()) {
    const Calibration have = Calibration::load(existing);
    auto sorted = [](std::vector<int64_t> v) {
      std::sort(v.begin(), v.end());
      return v;
    };
    if (have.samples == opt.samples && have.seq_len == opt.seq_len && have.seed == opt.seed &&
        sorted(have.group_sizes) == sorted(opt.group_sizes) && have.text_sha256 == text_sha)
      return existing;
    if (!may_write)
      throw FileError(job_path, "calibration file " + existing +
                                    " was made with other settings than the job asks for; a shard does not "
                                    "calibrate (every shard would write it): run skvq batch " + job_path +
                                    " --prepare once first (examples/slurm/submit-sweep.sh does)");
    log << "calibration " << existing << " was made with other settings than the job asks for; calibrating again\n";
  }
  if (!may_write && existing.empty())
    throw FileError(job_path, "calibration file " + file +
                                  " is missing; a shard does not calibrate (every shard would write it): run "
                                  "skvq batch " + job_path + " --prepare once first (examples/slurm/submit-sweep.sh does)");
  LoadedModel lm = load_model_for_eval(job.model, job.tokenizer, job.device, job.dtype);
  const auto tokens = tokenize_text_file(*lm.tokenizer, text, max_bytes);
  log << "calibrating " << lm.model->weights().name << " on " << text << ": " << opt.samples << " samples x "
      << opt.seq_len << " tokens\n";
  Calibration cal = calibrate(*lm.model, tokens, opt, nullptr, cancel);
  cal.text_path = text;
  cal.text_sha256 = text_sha;
  cal.save(existing.empty() ? file : existing);
  log << "calibration written to " << (existing.empty() ? file : existing) << "\n";
  return existing.empty() ? file : existing;
}

std::vector<RunRecord> run_batch_json(const json& j, const std::string& job_path, const std::string& db_path,
                                      std::ostream& log, const JobProgressFn& progress, CancelFlag cancel,
                                      const BatchRunOptions& how);

}  // namespace

std::vector<RunRecord> run_batch_file(const std::string& job_path, const std::string& db_path, std::ostream& log,
                                      const JobProgressFn& progress, CancelFlag cancel, const BatchRunOptions& how) {
  if (how.shard && how.prepare) throw ConfigError("--shard and --prepare: the prepare step runs once, before the shards");
  json j;
  try {
    j = json::parse(read_file(job_path));
  } catch (const json::exception& e) {
    throw FileError(job_path, std::string("malformed batch file: ") + e.what());
  }
  if (!j.is_object()) throw FileError(job_path, "a batch file is a JSON object");
  try {
    return run_batch_json(j, job_path, db_path, log, progress, cancel, how);
  } catch (const json::exception& e) {
    throw FileError(job_path, std::string("a field has the wrong type: ") + e.what());
  }
}

namespace {

std::vector<RunRecord> run_batch_json(const json& j, const std::string& job_path, const std::string& db_path,
                                      std::ostream& log, const JobProgressFn& progress, CancelFlag cancel,
                                      const BatchRunOptions& how) {
  for (auto& [key, _] : j.items())
    if (key != "model" && key != "tokenizer" && key != "device" && key != "dtype" && key != "threads" && key != "calibration" &&
        key != "ppl" && key != "configs" && key != "db" && key != "comment")
      throw FileError(job_path, "unknown field \"" + key + "\" (known: model, tokenizer, device, dtype, threads, calibration, ppl, configs, db)");
  const std::string base = fs::path(job_path).parent_path().string();
  PplJob job;
  if (!j.contains("model")) throw FileError(job_path, "missing field \"model\"");
  job.model = resolve_data_path(j.at("model").get<std::string>(), base);
  if (j.contains("tokenizer")) job.tokenizer = resolve_data_path(j.at("tokenizer").get<std::string>(), base);
  job.device = get_or<std::string>(j, "device", "cpu", job_path);
  job.dtype = get_or<std::string>(j, "dtype", "auto", job_path);
  if (j.contains("threads")) {
    if (!j.at("threads").is_number_integer() || j.at("threads").get<int>() < 0)
      throw FileError(job_path, "field \"threads\" must be a non-negative integer (0 = all cores)");
    set_threads(j.at("threads").get<int>());
  }
  if (!j.contains("ppl")) throw FileError(job_path, "missing field \"ppl\": {\"text\": ..., \"ctx_len\": ...}");
  const json& pj = j.at("ppl");
  check_keys(pj, "ppl", {"text", "ctx_len", "max_chunks", "batch", "max_bytes", "skip_bytes", "protocol", "fake_quant"}, job_path);
  if (!pj.contains("text")) throw FileError(job_path, "missing field \"text\" in \"ppl\"");
  job.text = resolve_data_path(pj.at("text").get<std::string>(), base);
  job.options.ctx_len = get_or<int64_t>(pj, "ctx_len", 512, job_path);
  job.options.max_chunks = get_or<int64_t>(pj, "max_chunks", 0, job_path);
  job.options.batch = get_or<int64_t>(pj, "batch", job.options.batch, job_path);
  job.max_bytes = get_or<int64_t>(pj, "max_bytes", 0, job_path);
  job.skip_bytes = get_or<int64_t>(pj, "skip_bytes", 0, job_path);
  job.options.fake_quant = get_or<bool>(pj, "fake_quant", false, job_path);
  try {
    job.options.protocol = parse_protocol(get_or<std::string>(pj, "protocol", "reference", job_path));
  } catch (const ConfigError& e) {
    throw FileError(job_path, std::string("\"ppl\".\"protocol\": ") + e.what());
  }
  job.configs = get_or<std::vector<std::string>>(j, "configs", {"fp16"}, job_path);
  if (job.configs.empty()) throw FileError(job_path, "\"configs\" is empty");
  for (const auto& c : job.configs) QuantConfig::parse(c);  // fail early on a typo
  const std::vector<WorkUnit> units = batch_units(job.configs);
  if (how.plan) {
    log << format_plan(units, how.shard ? how.shard->count : 1,
                       how.shard ? std::optional<int64_t>(how.shard->index) : std::nullopt)
        << "prepare: reference units";
    const std::vector<size_t> prep = prepare_units(units);
    for (size_t u : prep) log << " " << u;
    log << (prep.empty() ? " none" : "") << (j.contains("calibration") ? ", and the calibration" : "") << "\n"
        << "device " << job.device << "\n";
    return {};
  }
  if (how.shard) {
    job.units = shard_units(units, *how.shard);
    log << "shard " << how.shard->index << "/" << how.shard->count << ": " << job.units.size() << " of "
        << units.size() << " units\n";
  } else if (how.prepare) {
    job.units = prepare_units(units);
    log << "prepare: the calibration and " << job.units.size() << " reference units of " << units.size() << "\n";
  }
  // An explicit --db wins; else the job's "db"; else runs.sqlite in the current folder.
  const std::string db = db_path.empty() ? get_or<std::string>(j, "db", "runs.sqlite", job_path) : db_path;
  RunStore store(db);
  if (j.contains("calibration"))
    job.calibration = ensure_calibration(j.at("calibration"), job_path, base, job, log, cancel, !how.shard);
  if (how.shard && job.units.empty()) {
    log << "shard " << how.shard->index << "/" << how.shard->count << " has no units (the job has " << units.size()
        << "); nothing to do\n";
    return {};
  }
  std::vector<RunRecord> runs;
  if (!how.prepare || !job.units.empty()) runs = run_ppl_job(job, store, log, progress, cancel);
  log << "\n" << format_ppl_table(runs) << "\nruns stored in " << db << "\n";
  return runs;
}

}  // namespace

}  // namespace skvq
