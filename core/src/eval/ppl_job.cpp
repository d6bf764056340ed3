// Perplexity jobs: evaluate configurations and store each run as soon as it finishes.
#include <cmath>
#include <limits>
#include <cstdio>
#include <memory>
#include <ostream>
#include <sstream>

#include "skvq/batch.h"
#include "skvq/batch_shard.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/kv_cache.h"
#include "skvq/memory.h"
#include "skvq/run_session.h"
#include "skvq/session.h"

namespace skvq {

namespace {

nlohmann::json ppl_params(const PplJob& job) {
  nlohmann::json p = {{"ctx_len", job.options.ctx_len}, {"max_bytes", job.max_bytes}, {"max_chunks", job.options.max_chunks},
                      {"keep_window", job.options.keep_window}, {"full_prefill", job.options.full_prefill}};
  if (job.skip_bytes > 0) p["skip_bytes"] = job.skip_bytes;  // absent = 0 keeps earlier runs' identity
  // Absent = the reference protocol (earlier runs keep their identity); any other protocol is
  // part of the identity, so a resume never takes a run of one protocol for the other.
  if (job.options.protocol != PplProtocol::Reference) p["protocol"] = protocol_name(job.options.protocol);
  // Absent = the default storage (packed where the method has a packed codec; same values as
  // fake quantization, so runs stored before packed perplexity keep their identity).
  if (job.options.fake_quant) p["kv_storage"] = "fake-quant";
  return p;
}

}  // namespace

std::vector<RunRecord> run_ppl_job(const PplJob& job, RunStore& store, std::ostream& log,
                                   const JobProgressFn& progress, CancelFlag cancel) {
  // Parse every configuration first: a typo fails before an hour of evaluation.
  if (job.options.ctx_len < 2) throw ConfigError("perplexity: ctx_len must be at least 2 tokens, got " + std::to_string(job.options.ctx_len));
  if (job.options.batch < 1) throw ConfigError("perplexity: batch must be at least 1 chunk");
  if (job.options.max_chunks < 0 || job.max_bytes < 0 || job.skip_bytes < 0) throw ConfigError("perplexity: max_chunks and max_bytes must be >= 0 (0 = all)");
  // "k02-v2-g8" and "k2-v2-g8-w0" are the same configuration: evaluated once.
  const std::vector<QuantConfig> configs = distinct_configs(job.configs);
  // Which configurations to evaluate (job.units, else all), and the unquantized references
  // their ppl_fp compares against (evaluated, or found stored, before them).
  std::vector<bool> wanted(configs.size(), job.units.empty());
  for (size_t u : job.units) {
    if (u >= configs.size())
      throw ConfigError("perplexity: unit " + std::to_string(u) + " is not one of the job's " +
                        std::to_string(configs.size()) + " distinct configurations");
    wanted[u] = true;
  }
  std::vector<bool> reference(configs.size(), false);
  for (const WorkUnit& u : batch_units(job.configs))
    if (wanted[static_cast<size_t>(u.index)] && u.reference >= 0 && !wanted[static_cast<size_t>(u.reference)])
      reference[static_cast<size_t>(u.reference)] = true;
  LoadedModel lm = load_model_for_eval(job.model, job.tokenizer, job.device, job.dtype);
  const Model& model = *lm.model;
  std::unique_ptr<Calibration> calib;
  std::optional<int64_t> calib_id;
  for (const auto& c : configs) {
    c.validate_for(model.config());
    if (c.needs_calibration() && !calib) {
      if (job.calibration.empty())
        throw ConfigError("configuration '" + c.to_string() + "' needs a calibration file (--calib FILE or \"calibration\" in the batch file)");
      calib = std::make_unique<Calibration>(Calibration::load(job.calibration));
      calib->check_model(model.weights(), job.calibration);
    }
  }
  // Build every configuration's group layouts now: a group size the calibration lacks fails
  // before anything is evaluated.
  std::vector<KVLayouts> layouts;
  for (const auto& c : configs) layouts.push_back(KVLayouts::build(c, model.config(), calib.get()));
  const int64_t model_id = register_model(store, model.weights(), *lm.tokenizer);
  if (calib) calib_id = register_calibration(store, model_id, *calib, job.calibration);
  const std::string text_bytes = read_text(job.text, job.max_bytes, job.skip_bytes);
  const std::string data_sha = sha256_hex(text_bytes);
  const auto tokens = tokenize_text_file(*lm.tokenizer, job.text, job.max_bytes, job.skip_bytes);
  PerplexityOptions options = job.options;
  options.bos_id = lm.tokenizer->adds_bos() ? lm.tokenizer->bos_id() : -1;  // as llama_vocab_get_add_bos
  log << "model " << model.weights().name << " (" << model.config().describe() << ")\n"
      << "text  " << job.text << ": " << text_bytes.size() << " bytes, " << tokens.size() << " tokens, "
      << tokens.size() / job.options.ctx_len << " chunks of " << job.options.ctx_len << ", protocol "
      << protocol_name(job.options.protocol) << "\n";

  const int64_t trained = model.config().max_position_embeddings;
  if (trained > 0 && job.options.ctx_len > trained)
    log << "warning: ctx_len " << job.options.ctx_len << " is beyond the model's trained context of " << trained
        << " tokens (positions past it are extrapolated)\n";
  std::optional<double> ppl_fp;
  const std::string n_str = std::to_string(configs.size());
  auto identity = [&](size_t i) {
    RunRecord r;
    r.kind = "ppl";
    r.model_id = model_id;
    if (configs[i].needs_calibration()) r.calibration_id = calib_id;
    r.config = configs[i].to_string();
    r.data_path = job.text;
    r.data_sha256 = data_sha;
    r.params = ppl_params(job);
    return r;
  };
  // Evaluates configuration i in its claimed session and ends the run done or failed.
  auto evaluate = [&](size_t i, RunSession& session) {
    const QuantConfig& c = configs[i];
    RunRecord r = session.run();
    const std::string tag = "[" + std::to_string(i + 1) + "/" + n_str + "] " + r.config;
    if (!session.previous_status().empty())
      log << tag << ": taking over run " << r.id << " (" << session.previous_status() << ")\n";
    session.guard([&] {
      auto res = evaluate_perplexity(model, tokens, c, layouts[i], options,
                                     [&](int64_t done, int64_t total) {
                                       if (progress) progress(r.config, static_cast<int64_t>(i), static_cast<int64_t>(configs.size()), done, total);
                                     },
                                     cancel);
      if (!std::isfinite(res.ppl) || !std::isfinite(res.mean_nll)) {
        // NaN/Inf logits (overflowing weights or activations): never a "done" run with PPL NaN.
        const std::string msg = "perplexity of '" + r.config + "' on " + job.text + " is not finite (mean NLL " +
                                std::to_string(res.mean_nll) + "): the model " + model.weights().source_path +
                                " produces NaN or infinite logits";
        session.fail(msg, {{"tokens", res.tokens_evaluated}, {"chunks", res.chunks}, {"wall_seconds", res.seconds}});
        log << tag << ": failed, run " << r.id << ": " << msg << "\n";
        throw Error(msg);
      }
      if (c.is_unquantized()) ppl_fp = res.ppl;
      const KVMemory mem = kv_memory(model.config(), c);
      r.metrics = {{"ppl", res.ppl},
                   {"mean_nll", res.mean_nll},
                   {"bits_k", mem.bits_k},
                   {"bits_v", mem.bits_v},
                   {"kv_bytes_per_token", mem.kv_bytes_per_token},
                   {"tokens", res.tokens_evaluated},
                   {"chunks", res.chunks},
                   {"wall_seconds", res.seconds},
                   {"tokens_per_second", res.tokens_evaluated / std::max(res.seconds, 1e-9)},
                   {"kv_storage", res.kv_storage}};
      if (res.kv_bytes_measured > 0) r.metrics["kv_bytes_measured"] = res.kv_bytes_measured;  // per chunk of ctx_len
      if (ppl_fp) {
        r.metrics["ppl_fp"] = *ppl_fp;
        r.metrics["delta_ppl"] = res.ppl - *ppl_fp;
      }
      r.wall_seconds = res.seconds;
      session.finish(r.metrics, r.wall_seconds);
      log << tag << ": PPL " << res.ppl << " (" << res.tokens_evaluated << " tokens, " << res.seconds << " s), run "
          << r.id << "\n" << std::flush;
    });
    return session.run();
  };
  auto reuse = [&](size_t i, const RunSession& session) {
    log << "[" << i + 1 << "/" << n_str << "] " << session.run().config << ": stored as run " << session.id()
        << ", skipped\n" << std::flush;
    if (configs[i].is_unquantized()) ppl_fp = session.run().metrics.value("ppl", 0.0);
    return session.run();
  };

  // Runs another process is computing are left for the end (then waited for); the unquantized
  // reference is waited for at once, since the others' delta_ppl needs it.
  const OnDone on_done = job.skip_existing ? OnDone::Reuse : OnDone::Rerun;
  std::vector<std::optional<RunRecord>> results(configs.size());
  std::vector<size_t> later;
  for (size_t i = 0; i < configs.size(); ++i) {
    if (!wanted[i] && !reference[i]) continue;
    if (reference[i])
      log << "[" << i + 1 << "/" << n_str << "] " << configs[i].to_string()
          << ": the reference of this shard's later configurations (ppl_fp)\n";
    RunSession session(store, identity(i), on_done, /*wait=*/configs[i].is_unquantized(), cancel);
    if (session.busy()) {
      log << "[" << i + 1 << "/" << n_str << "] " << session.run().config << ": run " << session.id()
          << " is being computed by another process (" << session.run().owner << "); back to it at the end\n"
          << std::flush;
      later.push_back(i);
      continue;
    }
    results[i] = session.reused() ? reuse(i, session) : evaluate(i, session);
  }
  for (size_t i : later) {
    RunSession session(store, identity(i), OnDone::Reuse, /*wait=*/true, cancel);
    results[i] = session.reused() ? reuse(i, session) : evaluate(i, session);
  }
  std::vector<RunRecord> out;
  for (auto& r : results)
    if (r) out.push_back(std::move(*r));
  return out;
}

std::string format_ppl_table(const std::vector<RunRecord>& runs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  double fp = nan;
  for (const auto& r : runs)
    if (r.config == "fp16" && r.metrics.contains("ppl")) fp = r.metrics["ppl"].get<double>();
  std::ostringstream s;
  char line[512];
  std::snprintf(line, sizeof line, "%-44s %9s %9s %7s %7s %12s %9s %8s\n", "configuration", "PPL", "dPPL",
                "bits K", "bits V", "KV B/token", "tokens", "seconds");
  s << line << std::string(112, '-') << "\n";
  for (const auto& r : runs) {
    const auto& m = r.metrics;
    const double ppl = m.value("ppl", nan);
    const double d = std::isnan(fp) ? m.value("delta_ppl", nan) : ppl - fp;
    char delta[32];
    if (std::isnan(d)) std::snprintf(delta, sizeof delta, "%9s", "-");  // no unquantized run to compare with
    else std::snprintf(delta, sizeof delta, "%+9.4f", d == 0 ? 0.0 : d);
    std::snprintf(line, sizeof line, "%-44s %9.4f %s %7.3f %7.3f %12.1f %9lld %8.1f\n",
                  (r.config == "fp16" ? std::string("fp16 (unquantized)") : r.config).c_str(), ppl, delta,
                  m.value("bits_k", 16.0), m.value("bits_v", 16.0), m.value("kv_bytes_per_token", 0.0),
                  static_cast<long long>(m.value("tokens", int64_t{0})), m.value("wall_seconds", 0.0));
    s << line;
  }
  return s.str();
}

}  // namespace skvq
