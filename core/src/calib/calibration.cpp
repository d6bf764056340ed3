// Calibration: per-channel K/V statistics over sample text and k-means channel groups
// (skvq-method.md section 3).
#include "skvq/calibration.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "skvq/error.h"
#include "skvq/model.h"
#include "skvq/quant_config.h"
#include "skvq/weights.h"

namespace skvq {

namespace {

// Collects running per-channel min/max/absmax of k_proj (pre-RoPE) and v_proj outputs.
class StatsObserver : public ForwardObserver {
 public:
  explicit StatsObserver(int64_t layers) : k_(layers), v_(layers) {}
  void on_kv(int64_t layer, const at::Tensor& k_pre, const at::Tensor& v) override {
    update(k_[layer], k_pre);
    update(v_[layer], v);
  }
  static ChannelStats to_stats(const std::array<at::Tensor, 3>& s) {
    ChannelStats c;
    auto vec = [](const at::Tensor& t) {
      auto f = t.to(at::kFloat).cpu().contiguous();
      return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    };
    c.min = vec(s[0]);
    c.max = vec(s[1]);
    c.absmax = vec(s[2]);
    return c;
  }
  std::vector<std::array<at::Tensor, 3>> k_, v_;

 private:
  static void update(std::array<at::Tensor, 3>& s, const at::Tensor& x) {
    auto flat = x.to(at::kFloat).reshape({-1, x.size(-1)});
    auto mn = std::get<0>(flat.min(0)), mx = std::get<0>(flat.max(0)), am = std::get<0>(flat.abs().max(0));
    if (!s[0].defined()) {
      s = {mn, mx, am};
    } else {
      s[0] = at::minimum(s[0], mn);
      s[1] = at::maximum(s[1], mx);
      s[2] = at::maximum(s[2], am);
    }
  }
};

}  // namespace

Calibration calibrate(const Model& model, const std::vector<int32_t>& tokens,
                      const CalibrationOptions& opt, ProgressFn progress, CancelFlag cancel) {
  const auto& mc = model.config();
  const int64_t C = mc.kv_channels(), L = opt.seq_len, N = opt.samples;
  if (N <= 0 || L <= 1) throw ConfigError("calibration needs samples >= 1 and seq_len >= 2");
  if (static_cast<int64_t>(tokens.size()) < L)
    throw ConfigError("calibration text has " + std::to_string(tokens.size()) + " tokens, fewer than seq_len " + std::to_string(L));
  if (opt.group_sizes.empty()) throw ConfigError("calibration needs at least one group size");
  for (int64_t g : opt.group_sizes)
    if (g <= 0 || C % g != 0)
      throw ConfigError("group size " + std::to_string(g) + " does not fit the " + std::to_string(C) + " K/V channels (num_key_value_heads x head_dim)");

  // Sample starts drawn once from the seed, so the same seed gives the same samples.
  std::mt19937_64 rng(opt.seed);
  std::uniform_int_distribution<int64_t> start(0, static_cast<int64_t>(tokens.size()) - L);
  std::vector<int64_t> starts(N);
  for (auto& s : starts) s = start(rng);

  StatsObserver obs(mc.num_hidden_layers);
  const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(8, (1 << 16) / L));
  int64_t done = 0;
  while (done < N) {
    throw_if_cancelled(cancel);
    const int64_t b = std::min(batch, N - done);
    auto ids = at::empty({b, L}, at::kLong);
    auto* p = ids.data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i)
      for (int64_t t = 0; t < L; ++t) p[i * L + t] = tokens[starts[done + i] + t];
    model.forward(ids, nullptr, &obs, /*last_only=*/true);
    done += b;
    if (progress) progress(done, N + static_cast<int64_t>(opt.group_sizes.size()));
  }

  Calibration cal;
  cal.model_name = model.weights().name;
  cal.model_sha256 = model.weights().sha256;
  cal.samples = N;
  cal.seq_len = L;
  cal.seed = opt.seed;
  cal.num_layers = mc.num_hidden_layers;
  cal.kv_channels = C;
  cal.group_sizes = opt.group_sizes;
  for (int64_t li = 0; li < mc.num_hidden_layers; ++li) {
    LayerCalibration lc;
    lc.k = StatsObserver::to_stats(obs.k_[li]);
    lc.v = StatsObserver::to_stats(obs.v_[li]);
    // NaN/Inf activations (overflowing weights) would make every k-means restart NaN.
    for (const auto* st : {&lc.k, &lc.v})
      for (const auto* vec : {&st->min, &st->max, &st->absmax})
        for (size_t ch = 0; ch < vec->size(); ++ch)
          if (!std::isfinite((*vec)[ch]))
            throw FileError(model.weights().source_path,
                            "calibration statistics are not finite: layer " + std::to_string(li) + " " +
                                (st == &lc.k ? "keys (self_attn.k_proj output)" : "values (self_attn.v_proj output)") +
                                ", channel " + std::to_string(ch) + " has " +
                                (vec == &st->min ? "min " : vec == &st->max ? "max " : "absmax ") +
                                std::to_string((*vec)[ch]) + " (NaN or infinite activations from the weights)");
    cal.layers.push_back(std::move(lc));
  }
  int64_t gi = 0;
  for (int64_t g : opt.group_sizes) {
    throw_if_cancelled(cancel);
    const int k = static_cast<int>(C / g);
    for (int64_t li = 0; li < mc.num_hidden_layers; ++li) {
      auto& lc = cal.layers[li];
      const uint64_t s = opt.seed + 7919ULL * static_cast<uint64_t>(li) + 104729ULL * static_cast<uint64_t>(g);
      lc.k_clusters[g] = clusters_from_labels(kmeans_2d(lc.k.min, lc.k.max, k, s, opt.kmeans_restarts, opt.kmeans_iterations), k);
      lc.v_clusters[g] = clusters_from_labels(kmeans_2d(lc.v.min, lc.v.max, k, s + 1, opt.kmeans_restarts, opt.kmeans_iterations), k);
    }
    if (progress) progress(N + ++gi, N + static_cast<int64_t>(opt.group_sizes.size()));
  }
  cal.weights_fingerprint = kv_weights_fingerprint(model.weights());
  const auto wt = model.weights().layers.empty() ? at::kFloat : model.weights().layers[0].k_proj.scalar_type();
  cal.weights_dtype = wt == at::kBFloat16 ? "bfloat16" : wt == at::kHalf ? "float16" : "float32";
  return cal;
}

GroupLayout Calibration::layout(int64_t layer, bool keys, const QuantConfig& config) const {
  if (layer < 0 || layer >= static_cast<int64_t>(layers.size()))
    throw ConfigError(name() + " has no layer " + std::to_string(layer));
  const auto& lc = layers[layer];
  GroupLayout g;
  if (config.reorder) {
    const auto& m = keys ? lc.k_clusters : lc.v_clusters;
    auto it = m.find(config.group_size);
    if (it == m.end()) {
      std::string have;
      for (auto& [size, _] : m) have += (have.empty() ? "" : ",") + std::to_string(size);
      throw ConfigError(name() + " has no channel clusters for group size " + std::to_string(config.group_size) +
                        " (it has " + have + "); calibrate again with --group-sizes including it");
    }
    g.perm = it->second.perm;
    g.offsets = it->second.offsets;
  } else {
    g = GroupLayout::contiguous(kv_channels, config.group_size);
  }
  if (config.smooth) {
    const auto& am = keys ? lc.k.absmax : lc.v.absmax;
    g.smooth.resize(am.size());
    for (size_t c = 0; c < am.size(); ++c) g.smooth[c] = am[c] > 0 ? 1.0f / am[c] : 1.0f;
  }
  g.validate();
  return g;
}

KVLayouts KVLayouts::build(const QuantConfig& config, const ModelConfig& model, const Calibration* calib) {
  KVLayouts out;
  if (config.is_unquantized() || config.evicts()) return out;  // no groups to lay out
  config.validate_for(model);
  const int64_t C = model.kv_channels();
  if (config.needs_calibration()) {
    if (!calib)
      throw ConfigError("configuration '" + config.to_string() + "' needs a calibration file (--calib FILE; make one with `skvq calibrate`)");
    if (calib->num_layers != model.num_hidden_layers || calib->kv_channels != C)
      throw ConfigError(calib->name() + " has " + std::to_string(calib->num_layers) + " layers x " + std::to_string(calib->kv_channels) +
                        " channels, the model " + std::to_string(model.num_hidden_layers) + " x " + std::to_string(C));
  }
  for (int64_t li = 0; li < model.num_hidden_layers; ++li) {
    if (config.needs_calibration() && config.method == QuantMethod::SKVQ) {
      out.k.push_back(calib->layout(li, true, config));
      out.v.push_back(calib->layout(li, false, config));
    } else {
      const bool kivi = config.method == QuantMethod::KIVI;
      out.k.push_back(kivi ? GroupLayout{} : GroupLayout::contiguous(C, config.group_size));
      out.v.push_back(GroupLayout::contiguous(C, config.group_size));
    }
  }
  return out;
}

}  // namespace skvq
