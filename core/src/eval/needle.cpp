// Needle-in-a-haystack grid (skvq-method.md section 7) and the run-store helpers of the evals.
#include "skvq/needle.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/generate.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"
#include "skvq/run_session.h"
#include "skvq/run_store.h"
#include "skvq/text_metrics.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq {
namespace fs = std::filesystem;

void NeedleOptions::validate() const {
  if (context_lengths.empty()) throw ConfigError("needle: no context lengths");
  if (depth_percents.empty()) throw ConfigError("needle: no depth percents");
  if (buffer_tokens < 0) throw ConfigError("needle: buffer tokens must be >= 0");
  if (max_new_tokens < 1) throw ConfigError("needle: max new tokens must be >= 1");
  for (double d : depth_percents)
    if (!(d >= 0.0 && d <= 100.0))
      throw ConfigError("needle: depth percent " + std::to_string(d) + " outside 0..100");
  for (int64_t l : context_lengths)
    if (l <= buffer_tokens)
      throw ConfigError("needle: context length " + std::to_string(l) +
                        " must exceed the buffer of " + std::to_string(buffer_tokens) + " tokens");
  if (prompt_template.find("{context}") == std::string::npos)
    throw ConfigError("needle: the prompt template has no {context}");
  if (needle.empty()) throw ConfigError("needle: empty needle");
  parse_chat_template_option(chat_template, "");  // throws for an unknown name
}

nlohmann::json NeedleOptions::params(ChatFamily chat) const {
  nlohmann::json p = {{"context_lengths", context_lengths}, {"depth_percents", depth_percents},
                      {"needle", needle},                   {"question", question},
                      {"max_new_tokens", max_new_tokens},   {"haystack_dir", haystack_dir},
                      {"key_phrase", key_phrase},           {"template", prompt_template},
                      {"buffer_tokens", buffer_tokens}};
  if (chat != ChatFamily::None) p["chat_template"] = chat_family_name(chat);
  if (fake_quant) p["kv_storage"] = "fake-quant";  // absent = packed where supported (the default)
  return p;
}

ChatFamily NeedleOptions::chat_family(const Tokenizer& tok) const {
  return parse_chat_template_option(chat_template, tok.chat_template());
}

std::string needle_prompt_text(const NeedleOptions& opt, const Tokenizer& tok, const std::string& context) {
  const std::string user = fill_needle_template(opt.prompt_template, context, opt.question);
  return apply_chat_template(opt.chat_family(tok), tok.chat_template(), "", user);
}

std::string load_haystack(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw FileError(dir, "haystack directory missing");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  if (files.empty()) throw FileError(dir, "no .txt essays in the haystack directory");
  std::sort(files.begin(), files.end());
  std::string out;
  for (const auto& f : files) out += read_text(f.string());  // refuses binary and UTF-16 essays
  return out;
}

std::vector<int64_t> linear_lengths(int64_t min, int64_t max, int64_t steps) {
  if (steps < 1) throw ConfigError("needle: length steps must be >= 1");
  if (min < 1 || max < min) throw ConfigError("needle: need 1 <= min length <= max length");
  if (steps == 1) return {min};
  std::vector<int64_t> out;
  for (int64_t i = 0; i < steps; ++i) {
    double x = min + (static_cast<double>(max - min) * i) / (steps - 1);
    out.push_back(static_cast<int64_t>(std::nearbyint(x)));
  }
  return out;
}

std::vector<double> depth_percent_grid(double min, double max, int64_t steps,
                                       const std::string& spacing) {
  if (steps < 1) throw ConfigError("needle: depth steps must be >= 1");
  if (!(min >= 0 && max <= 100 && min <= max))
    throw ConfigError("needle: depth bounds must satisfy 0 <= min <= max <= 100");
  if (spacing != "linear" && spacing != "sigmoid")
    throw ConfigError("needle: depth spacing must be linear or sigmoid, not " + spacing);
  std::vector<double> out;
  for (int64_t i = 0; i < steps; ++i) {
    double x = steps == 1 ? min : min + (max - min) * i / static_cast<double>(steps - 1);
    if (spacing == "linear") {
      out.push_back(std::nearbyint(x));
    } else if (x == 0.0 || x == 100.0) {
      out.push_back(x);
    } else {
      double y = 100.0 / (1.0 + std::exp(-0.1 * (x - 50.0)));
      out.push_back(std::nearbyint(y * 1000.0) / 1000.0);
    }
  }
  return out;
}

int64_t needle_insertion_point(const std::vector<std::string>& pieces, double depth_percent) {
  if (!(depth_percent >= 0 && depth_percent <= 100))
    throw ConfigError("needle: depth percent outside 0..100");
  const int64_t n = static_cast<int64_t>(pieces.size());
  if (depth_percent >= 100.0) return n;
  int64_t pos = static_cast<int64_t>(std::floor(n * depth_percent / 100.0));
  auto ends_sentence = [](const std::string& p) {
    size_t e = p.find_last_not_of(" \t\r\n");
    return e != std::string::npos && p[e] == '.';
  };
  while (pos > 0 && !ends_sentence(pieces[pos - 1])) --pos;
  return pos;
}

NeedleContext build_needle_context(const Tokenizer& tok, const std::vector<int32_t>& haystack_tokens,
                                   const std::vector<int32_t>& needle_tokens,
                                   int64_t context_length, int64_t buffer_tokens,
                                   double depth_percent) {
  const int64_t effective = context_length - buffer_tokens;
  const int64_t nl = static_cast<int64_t>(needle_tokens.size());
  const int64_t hay = effective - nl;
  if (hay < 1)
    throw ConfigError("needle: context length " + std::to_string(context_length) + " minus buffer " +
                      std::to_string(buffer_tokens) + " leaves no room around the " +
                      std::to_string(nl) + "-token needle");
  if (static_cast<int64_t>(haystack_tokens.size()) < hay)
    throw ConfigError("needle: haystack too short for context length " +
                      std::to_string(context_length));
  std::vector<int32_t> ctx(haystack_tokens.begin(), haystack_tokens.begin() + hay);
  std::vector<std::string> pieces;
  pieces.reserve(ctx.size());
  int32_t prev = -1;
  for (int32_t t : ctx) {
    pieces.push_back(tok.decode_token(prev, t));
    prev = t;
  }
  NeedleContext out;
  out.needle_pos = needle_insertion_point(pieces, depth_percent);
  out.needle_len = nl;
  out.tokens.assign(ctx.begin(), ctx.begin() + out.needle_pos);
  out.tokens.insert(out.tokens.end(), needle_tokens.begin(), needle_tokens.end());
  out.tokens.insert(out.tokens.end(), ctx.begin() + out.needle_pos, ctx.end());
  return out;
}

std::string fill_needle_template(const std::string& tmpl, const std::string& context,
                                 const std::string& question) {
  return fill_placeholders(tmpl, {{"{context}", context}, {"{question}", question}});
}

NeedleScores score_needle_response(const std::string& response, const NeedleOptions& opt,
                                   const std::string* fp_response) {
  NeedleScores s;
  s.rouge1_f = rouge1_f1(response, opt.needle);
  s.rougeL_f = rougeL_f1(response, opt.needle);
  s.contains = contains_normalized(response, opt.key_phrase);
  if (fp_response) {
    // Two identical empty answers agree fully.
    s.agreement_rougeL = (rouge_tokens(response).empty() && rouge_tokens(*fp_response).empty())
                             ? 1.0
                             : rougeL_f1(response, *fp_response);
  }
  return s;
}

std::string needle_cell_key(int64_t context_length, double depth_percent) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "L%lld_D%.1f", static_cast<long long>(context_length),
                depth_percent);
  return buf;
}

namespace {

// Tokens of the haystack, at least `need` of them: encode a growing prefix (repeating the
// essays when they are too short, as the harness does).
std::vector<int32_t> haystack_tokens(const Tokenizer& tok, const std::string& hay, int64_t need) {
  size_t bytes = static_cast<size_t>(std::max<int64_t>(4096, need * 8));
  for (;;) {
    std::string text;
    while (text.size() < bytes) text += hay;
    if (text.size() > bytes) {
      size_t cut = text.find_last_of(" \n", bytes);
      text.resize(cut == std::string::npos || cut == 0 ? bytes : cut);
    }
    auto toks = tok.encode(text, false);
    if (static_cast<int64_t>(toks.size()) >= need) return toks;
    bytes *= 2;
  }
}

nlohmann::json needle_metrics(const std::vector<RunItem>& items) {
  double r1 = 0, rl = 0, c = 0, ag = 0;
  for (const auto& it : items) {
    r1 += it.data.value("rouge1_f", 0.0);
    rl += it.data.value("rougeL_f", 0.0);
    c += it.data.value("contains", 0.0);
    ag += it.data.value("agreement_rougeL", 0.0);
  }
  const double n = items.empty() ? 1.0 : static_cast<double>(items.size());
  return {{"cells", static_cast<int64_t>(items.size())},
          {"mean_rouge1_f", r1 / n},
          {"mean_rougeL_f", rl / n},
          {"mean_contains", c / n},
          {"mean_agreement_rougeL", ag / n}};
}

}  // namespace

std::vector<NeedleRunSummary> run_needle(const Model& model, const Tokenizer& tok,
                                         const std::vector<QuantConfig>& configs,
                                         const Calibration* calib, RunStore& store,
                                         int64_t model_id, std::optional<int64_t> calibration_id,
                                         const NeedleOptions& opt, ProgressFn progress,
                                         CancelFlag cancel) {
  opt.validate();
  const std::string hay = load_haystack(opt.haystack_dir);
  const std::string hay_sha = sha256_hex(hay);
  const ModelConfig& mc = model.config();

  // The unquantized reference first, then the others in the given order (duplicates dropped).
  std::vector<QuantConfig> order;
  std::set<std::string> seen;
  for (const auto& c : configs)
    if (c.is_unquantized() && seen.insert(c.to_string()).second) order.push_back(c);
  if (order.empty()) {
    order.push_back(QuantConfig::parse("fp16"));
    seen.insert(order.back().to_string());
  }
  for (const auto& c : configs)
    if (!c.is_unquantized() && seen.insert(c.to_string()).second) order.push_back(c);
  for (const auto& c : order) c.validate_for(mc);
  // Layouts early: a configuration that needs a missing calibration fails before any work.
  std::vector<KVLayouts> layouts;
  for (const auto& c : order) layouts.push_back(KVLayouts::build(c, mc, calib));

  // Every cell's prompt tokens, built once.
  const auto needle_tokens = tok.encode(opt.needle, false);
  int64_t max_len = *std::max_element(opt.context_lengths.begin(), opt.context_lengths.end());
  const auto hay_tokens = haystack_tokens(tok, hay, max_len - opt.buffer_tokens);
  struct Cell {
    int64_t length;
    double depth;
    std::string key;
    std::vector<int32_t> prompt;
  };
  std::vector<Cell> cells;
  bool warned = false;
  for (int64_t L : opt.context_lengths) {
    for (double D : opt.depth_percents) {
      std::string key = needle_cell_key(L, D);
      if (std::any_of(cells.begin(), cells.end(), [&](const Cell& c) { return c.key == key; }))
        continue;
      auto ctx = build_needle_context(tok, hay_tokens, needle_tokens, L, opt.buffer_tokens, D);
      const std::string prompt = needle_prompt_text(opt, tok, tok.decode(ctx.tokens));
      Cell cell{L, D, key, tok.encode(prompt, true)};
      const int64_t total = static_cast<int64_t>(cell.prompt.size()) + opt.max_new_tokens;
      if (total > mc.max_position_embeddings && !warned) {
        std::fprintf(stderr,
                     "skvq needle: warning: prompts of up to %lld tokens plus %lld answer tokens "
                     "exceed the model's max_position_embeddings %lld (RoPE scaling factor %g); "
                     "results past the trained length may be meaningless\n",
                     static_cast<long long>(cell.prompt.size()),
                     static_cast<long long>(opt.max_new_tokens),
                     static_cast<long long>(mc.max_position_embeddings), mc.rope_scaling_factor);
        warned = true;
      }
      cells.push_back(std::move(cell));
    }
  }

  const nlohmann::json params = opt.params(opt.chat_family(tok));
  const int64_t total_cells = static_cast<int64_t>(cells.size() * order.size());
  int64_t done_cells = 0;
  std::map<std::string, std::string> fp_responses;  // cell key -> unquantized answer
  std::vector<NeedleRunSummary> out;

  for (size_t ci = 0; ci < order.size(); ++ci) {
    const QuantConfig& cfg = order[ci];
    const bool is_fp = cfg.is_unquantized();
    RunRecord ident;
    ident.kind = "needle";
    ident.model_id = model_id;
    if (cfg.needs_calibration()) ident.calibration_id = calibration_id;
    ident.config = cfg.to_string();
    ident.data_path = opt.haystack_dir;
    ident.data_sha256 = hay_sha;
    ident.params = params;

    NeedleRunSummary sum;
    sum.config = ident.config;
    // Resume: a done grid is claimed again so cells added to the grid are computed.
    RunSession session(store, ident, OnDone::Resume, /*wait=*/true, cancel);
    sum.run_id = session.id();
    session.guard([&] {
      std::set<std::string> stored;
      for (const auto& it : session.items()) {
        stored.insert(it.key);
        if (is_fp && it.data.contains("response"))
          fp_responses.emplace(it.key, it.data["response"].get<std::string>());
      }
      for (const auto& cell : cells) {
        throw_if_cancelled(cancel);
        if (stored.count(cell.key)) {
          ++sum.cells_skipped;
        } else {
          // Packed storage where supported (SKVQ/RTN, model on the CPU): the same attention inputs
          // as fake quantization, decode steps attend over the packed bytes.
          auto cache_ptr = make_kv_cache(mc, cfg, layouts[ci], 1, /*full_prefill=*/true,
                                         /*packed=*/!opt.fake_quant && model.device().is_cpu());
          KVCache& cache = *cache_ptr;
          SamplingParams sp;
          sp.max_new_tokens = opt.max_new_tokens;
          sp.temperature = 0.0f;
          auto res = generate_tokens(model, tok, cell.prompt, sp, cache, nullptr, cancel);
          const std::string* ref = nullptr;
          if (!is_fp) {
            auto f = fp_responses.find(cell.key);
            if (f == fp_responses.end())
              throw Error("needle: no unquantized answer for cell " + cell.key);
            ref = &f->second;
          } else {
            fp_responses[cell.key] = res.text;
          }
          NeedleScores s = score_needle_response(res.text, opt, ref);
          nlohmann::json data = {{"context_length", cell.length},
                                 {"depth_percent", cell.depth},
                                 {"response", res.text},
                                 {"prompt_tokens", static_cast<int64_t>(cell.prompt.size())},
                                 {"rouge1_f", s.rouge1_f},
                                 {"rougeL_f", s.rougeL_f},
                                 {"contains", s.contains ? 1 : 0},
                                 {"agreement_rougeL", s.agreement_rougeL}};
          session.put_item(cell.key, data);
          ++sum.cells_computed;
        }
        ++done_cells;
        if (progress) progress(done_cells, total_cells);
      }
      // Metrics over the cells of this grid.
      std::vector<RunItem> grid_items;
      std::set<std::string> keys;
      for (const auto& c : cells) keys.insert(c.key);
      for (auto& it : session.items())
        if (keys.count(it.key)) grid_items.push_back(std::move(it));
      sum.metrics = needle_metrics(grid_items);
      session.finish(sum.metrics, session.total_wall_seconds());
    });
    out.push_back(std::move(sum));
  }
  return out;
}

nlohmann::json needle_export_json(RunStore& store, const std::vector<int64_t>& run_ids,
                                  const std::string& model_name) {
  nlohmann::json arr = nlohmann::json::array();
  for (int64_t id : run_ids) {
    auto run = store.get_run(id);
    if (!run) throw StoreError(store.path() + ": no run " + std::to_string(id));
    auto items = store.items(id);
    std::sort(items.begin(), items.end(), [](const RunItem& a, const RunItem& b) {
      auto la = a.data.value("context_length", int64_t{0}), lb = b.data.value("context_length", int64_t{0});
      if (la != lb) return la < lb;
      return a.data.value("depth_percent", 0.0) < b.data.value("depth_percent", 0.0);
    });
    const std::string needle = run->params.value("needle", std::string());
    for (const auto& it : items)
      arr.push_back({{"model", model_name},
                     {"context_length", it.data.value("context_length", int64_t{0})},
                     {"depth_percent", it.data.value("depth_percent", 0.0)},
                     {"version", run->config},
                     {"needle", needle},
                     {"model_response", it.data.value("response", std::string())},
                     {"score", 10.0 * it.data.value("rouge1_f", 0.0)}});
  }
  return arr;
}

}  // namespace skvq
