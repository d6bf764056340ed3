// Attention locality and quantization-error analysis (run kind "analyze").
#include "skvq/analyze.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"
#include "skvq/run_session.h"
#include "skvq/run_store.h"
#include "skvq/text_metrics.h"

namespace skvq {
namespace {

std::vector<double> to_vec(const at::Tensor& t) {
  auto c = t.to(at::kDouble).contiguous().cpu();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// Collects what the fp forward shows: locality per layer, K pre-RoPE / V, attention outputs.
class AnalyzeObserver : public ForwardObserver {
 public:
  AnalyzeObserver(int64_t layers, const AnalyzeOptions& opt, bool want_attention)
      : opt_(opt), want_(want_attention), loc(layers), k(layers), v(layers), out(layers) {}
  void on_kv(int64_t layer, const at::Tensor& k_pre, const at::Tensor& vv) override {
    k[layer] = k_pre.detach().to(at::kFloat).cpu().clone();
    v[layer] = vv.detach().to(at::kFloat).cpu().clone();
  }
  bool wants_attention() const override { return want_; }
  void on_attention(int64_t layer, const at::Tensor& probs) override {
    loc[layer] = attention_locality(probs, opt_.sinks, opt_.windows);
  }
  void on_attention_output(int64_t layer, const at::Tensor& o) override {
    out[layer] = o.detach().to(at::kFloat).cpu().clone();
  }

  const AnalyzeOptions& opt_;
  bool want_;
  std::vector<LayerLocality> loc;
  std::vector<at::Tensor> k, v, out;
};

nlohmann::json stats_json(const ChannelStats& s, const ChannelClusters& c) {
  return {{"min", s.min},         {"max", s.max},      {"absmax", s.absmax},
          {"labels", c.labels},   {"perm", c.perm},    {"offsets", c.offsets}};
}

ChannelClusters clusters_for(const std::map<int64_t, ChannelClusters>& m, const ChannelStats& s,
                             int64_t g, uint64_t seed) {
  if (auto it = m.find(g); it != m.end()) return it->second;
  const int k = static_cast<int>(static_cast<int64_t>(s.min.size()) / g);
  return clusters_from_labels(kmeans_2d(s.min, s.max, k, seed), k);
}

}  // namespace

LayerLocality attention_locality(const at::Tensor& probs_in, const std::vector<int64_t>& sinks,
                                 const std::vector<int64_t>& windows) {
  if (probs_in.dim() != 4) throw ConfigError("attention_locality: probs must be [B, H, Tq, Tk]");
  auto probs = probs_in.detach().to(at::kDouble).cpu();
  const int64_t B = probs.size(0), H = probs.size(1), Tq = probs.size(2), Tk = probs.size(3);
  if (Tq > Tk || Tq < 1) throw ConfigError("attention_locality: need 1 <= Tq <= Tk");
  LayerLocality L;
  L.bin_edges = log_distance_bin_edges(Tk - 1);
  // dist[i, j] = (Tk - Tq + i) - j
  auto qpos = at::arange(Tk - Tq, Tk, at::kLong).unsqueeze(1);
  auto kpos = at::arange(0, Tk, at::kLong).unsqueeze(0);
  auto dist = qpos - kpos;  // [Tq, Tk]
  auto mean_over = [&](const at::Tensor& mask) {
    // mask [Tq, Tk] bool -> per head mean over batch and queries of the masked mass
    auto m = (probs * mask.to(at::kDouble)).sum(-1);  // [B, H, Tq]
    return to_vec(m.mean(std::vector<int64_t>{0, 2}));  // [H]
  };
  const int64_t nb = static_cast<int64_t>(L.bin_edges.size()) - 1;
  std::vector<std::vector<double>> per_bin;  // [bin][head]
  for (int64_t b = 0; b < nb; ++b)
    per_bin.push_back(mean_over((dist >= L.bin_edges[b]) & (dist < L.bin_edges[b + 1])));
  L.mass.assign(H, std::vector<double>(nb, 0.0));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t b = 0; b < nb; ++b) L.mass[h][b] = per_bin[b][h];
  for (int64_t S : sinks) L.sink_mass[S] = mean_over((kpos < S).expand({Tq, Tk}) & (dist >= 0));
  for (int64_t W : windows) L.window_mass[W] = mean_over((dist >= 0) & (dist < W));
  (void)B;
  return L;
}

std::vector<double> group_mse(const at::Tensor& x_in, const GroupLayout& layout,
                              const GroupQuantParams& p) {
  if (x_in.dim() != 2 || x_in.size(1) != layout.channels())
    throw ConfigError("group_mse: x must be [N, " + std::to_string(layout.channels()) + "]");
  auto x = x_in.detach().to(at::kFloat).cpu().contiguous();
  auto q = x.clone();
  fake_quant_rows_cpu(q.data_ptr<float>(), q.size(0), q.size(1), layout, p);
  auto err = (x - q).pow(2).to(at::kDouble).sum(0);  // [C] per original channel
  auto e = to_vec(err);
  const double n = static_cast<double>(x.size(0));
  std::vector<double> out;
  for (int64_t g = 0; g < layout.num_groups(); ++g) {
    double s = 0;
    for (int64_t j = layout.offsets[g]; j < layout.offsets[g + 1]; ++j) s += e[layout.perm[j]];
    const double cnt = static_cast<double>(layout.offsets[g + 1] - layout.offsets[g]) * n;
    out.push_back(cnt > 0 ? s / cnt : 0.0);
  }
  return out;
}

int64_t analysis_group_size(const QuantConfig& config, int64_t C) {
  if ((config.method == QuantMethod::SKVQ || config.method == QuantMethod::RTN) &&
      config.group_size > 0 && C % config.group_size == 0)
    return config.group_size;
  if (C % 128 == 0 && C / 128 >= 2) return 128;
  if (C % 4 == 0) return C / 4;
  return C;
}

namespace {
void analyze_into(RunSession& session, AnalyzeSummary& sum, const Model& model,
                  const std::vector<int32_t>& tokens, const QuantConfig& config,
                  const Calibration* calib, const ModelConfig& mc, int64_t g,
                  const std::string& config_name, const AnalyzeOptions& opt, CancelFlag cancel);
}  // namespace

AnalyzeSummary run_analyze(const Model& model, const std::vector<int32_t>& tokens,
                           const std::string& text_path, const QuantConfig& config,
                           const Calibration* calib, RunStore& store, int64_t model_id,
                           std::optional<int64_t> calibration_id, const AnalyzeOptions& opt,
                           CancelFlag cancel) {
  const ModelConfig& mc = model.config();
  const int64_t T = static_cast<int64_t>(tokens.size());
  if (T < 3) throw ConfigError("analyze: the text must give at least 3 tokens");
  for (int64_t s : opt.sinks)
    if (s < 0) throw ConfigError("analyze: sink sizes must be >= 0");
  for (int64_t w : opt.windows)
    if (w < 1) throw ConfigError("analyze: window sizes must be >= 1");
  config.validate_for(mc);
  const int64_t C = mc.kv_channels();
  const int64_t g = analysis_group_size(config, C);

  RunRecord ident;
  ident.kind = "analyze";
  ident.model_id = model_id;
  ident.calibration_id = calib ? calibration_id : std::nullopt;
  ident.config = config.to_string();
  ident.data_path = text_path;
  ident.data_sha256 = sha256_hex(std::string(reinterpret_cast<const char*>(tokens.data()),
                                             tokens.size() * sizeof(int32_t)));
  ident.params = {{"text", text_path}, {"tokens", T},          {"sinks", opt.sinks},
                  {"windows", opt.windows}, {"quant", ident.config}};
  AnalyzeSummary sum;
  RunSession session(store, ident, OnDone::Reuse, /*wait=*/true, cancel);
  sum.run_id = session.id();
  if (session.reused()) {
    sum.reused = true;
    sum.metrics = session.run().metrics;
    return sum;
  }
  session.guard([&] { analyze_into(session, sum, model, tokens, config, calib, mc, g, ident.config, opt, cancel); });
  return sum;
}

namespace {

void analyze_into(RunSession& session, AnalyzeSummary& sum, const Model& model,
                  const std::vector<int32_t>& tokens, const QuantConfig& config,
                  const Calibration* calib, const ModelConfig& mc, int64_t g,
                  const std::string& config_name, const AnalyzeOptions& opt, CancelFlag cancel) {
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t C = mc.kv_channels(), nl = mc.num_hidden_layers;
  const double t0 = now_seconds();

  auto ids = at::empty({1, T}, at::kLong);
  for (int64_t t = 0; t < T; ++t) ids.data_ptr<int64_t>()[t] = tokens[t];
  ids = ids.to(model.device());

  // 1. fp forward: locality, K/V, attention outputs.
  if (opt.progress) opt.progress(0, 4);
  AnalyzeObserver fp(nl, opt, true);
  model.forward(ids, nullptr, &fp, /*last_only=*/true);
  throw_if_cancelled(cancel);
  int64_t heads = mc.num_attention_heads;
  std::map<int64_t, double> sink_sum, win_sum;
  for (int64_t l = 0; l < nl; ++l) {
    const auto& L = fp.loc[l];
    nlohmann::json sm = nlohmann::json::object(), wm = nlohmann::json::object();
    for (auto& [S, v] : L.sink_mass) {
      sm[std::to_string(S)] = v;
      for (double x : v) sink_sum[S] += x;
    }
    for (auto& [W, v] : L.window_mass) {
      wm[std::to_string(W)] = v;
      for (double x : v) win_sum[W] += x;
    }
    session.put_item("locality/layer" + std::to_string(l), {{"layer", l}, {"bin_edges", L.bin_edges}, {"mass", L.mass},
                     {"sink_mass", sm}, {"window_mass", wm}});
  }

  if (opt.progress) opt.progress(1, 4);
  // 2. Channel statistics and clusters: the calibration, or one made from this text.
  std::optional<Calibration> own;
  const Calibration* cal = calib;
  if (!cal) {
    CalibrationOptions co;
    co.samples = 1;
    co.seq_len = T - 1;
    co.group_sizes = {g};
    if (config.needs_calibration() && config.group_size != g && config.group_size > 0)
      co.group_sizes.push_back(config.group_size);
    own = calibrate(model, tokens, co, nullptr, cancel);
    cal = &*own;
  }
  if (cal->num_layers != nl || cal->kv_channels != C)
    throw ConfigError("analyze: the calibration does not match the model's layers/channels");

  if (opt.progress) opt.progress(2, 4);
  // 3. Per-group quantization error on this text's K (pre-RoPE) and V.
  auto bits_for = [&](bool keys) {
    const bool q = keys ? config.quantizes_keys() : config.quantizes_values();
    if (!q || config.method == QuantMethod::KIVI || config.evicts()) return 2.0;  // evicted: the 2-bit view
    return keys ? config.k_bits : config.v_bits;
  };
  const float clip = config.clip_ratio < 1.0 ? static_cast<float>(config.clip_ratio) : 0.92f;
  for (int64_t l = 0; l < nl; ++l) {
    const auto& lc = cal->layers[l];
    auto kc = clusters_for(lc.k_clusters, lc.k, g, cal->seed);
    auto vc = clusters_for(lc.v_clusters, lc.v, g, cal->seed);
    session.put_item("channels/layer" + std::to_string(l), {{"layer", l}, {"group_size", g}, {"k", stats_json(lc.k, kc)},
                     {"v", stats_json(lc.v, vc)}});
    nlohmann::json ge = {{"layer", l}, {"config", config_name}};
    for (int side = 0; side < 2; ++side) {
      const bool keys = side == 0;
      const auto& cl = keys ? kc : vc;
      at::Tensor x = (keys ? fp.k[l] : fp.v[l]).reshape({-1, C});
      GroupQuantParams p;
      p.qmax = qmax_for_bits(bits_for(keys));
      p.fp8 = config.fp8;
      p.sym = config.sym;
      p.hadamard_dim = config.had ? mc.head_dim : 0;
      GroupLayout plain = GroupLayout::contiguous(C, g), reord;
      reord.perm = cl.perm;
      reord.offsets = cl.offsets;
      reord.validate();
      nlohmann::json e;
      e["plain"] = group_mse(x, plain, p);
      e["reorder"] = group_mse(x, reord, p);
      p.clip_ratio = clip;
      e["reorder_clip"] = group_mse(x, reord, p);
      ge[keys ? "k" : "v"] = e;
    }
    session.put_item("group_error/layer" + std::to_string(l), ge);
  }
  throw_if_cancelled(cancel);

  if (opt.progress) opt.progress(3, 4);
  // 4. Attention-output error of the quantized run (quantized prefill attention).
  AnalyzeObserver qo(nl, opt, false);
  if (!config.is_unquantized()) {
    const Calibration* lay_cal = calib ? calib : (config.needs_calibration() ? cal : nullptr);
    auto cache = make_kv_cache(mc, config, KVLayouts::build(config, mc, lay_cal), 1,
                               /*full_prefill=*/false, /*packed=*/model.device().is_cpu());
    model.forward(ids, cache.get(), &qo, /*last_only=*/true);
  }
  for (int64_t l = 0; l < nl; ++l) {
    double rel = 0, mse = 0;
    if (!config.is_unquantized()) {
      auto a = fp.out[l].to(at::kDouble), b = qo.out[l].to(at::kDouble);
      const double na = a.norm().item<double>();
      const double nd = (b - a).norm().item<double>();
      rel = na > 0 ? nd / na : 0.0;
      mse = (b - a).pow(2).mean().item<double>();
    }
    session.put_item("attn_error/layer" + std::to_string(l), {{"layer", l}, {"config", config_name}, {"rel_error", rel}, {"mse", mse}});
  }

  if (opt.progress) opt.progress(4, 4);
  const double denom = static_cast<double>(nl * heads);
  nlohmann::json sb = nlohmann::json::object(), wb = nlohmann::json::object();
  for (auto& [S, s] : sink_sum) sb[std::to_string(S)] = s / denom;
  for (auto& [W, s] : win_sum) wb[std::to_string(W)] = s / denom;
  sum.metrics = {{"layers", nl},
                 {"heads", heads},
                 {"mean_sink_mass", opt.sinks.empty() ? 0.0 : sink_sum[opt.sinks.front()] / denom},
                 {"mean_window_mass", opt.windows.empty() ? 0.0 : win_sum[opt.windows.front()] / denom},
                 {"sink_mass_by_S", sb},
                 {"window_mass_by_W", wb}};
  session.finish(sum.metrics, now_seconds() - t0);
}

}  // namespace

}  // namespace skvq
