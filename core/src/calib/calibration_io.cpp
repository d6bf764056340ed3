// Calibration files: JSON, format "skvq-calibration" version 1.
//   {"format": "skvq-calibration", "version": 1,
//    "model": {"name", "sha256", "weights_fingerprint", "num_layers", "kv_channels"},
//    "text": {"path", "sha256"}, "samples", "seq_len", "seed", "group_sizes": [g...],
//    "layers": [{"k": {"min": [C], "max": [C], "absmax": [C], "labels": {"<g>": [C]}},
//                "v": {...}}]}
// Cluster permutations and group offsets are rebuilt from the labels on load.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/weights.h"

namespace skvq {

using nlohmann::json;

std::string kv_weights_fingerprint(const ModelWeights& w) {
  // Hashed one tensor at a time: for a 7B model the float32 k/v weights alone are 4 GB.
  Sha256 h;
  for (const auto& l : w.layers) {
    for (const at::Tensor* t : {&l.k_proj, &l.v_proj}) {
      auto f = t->to(at::kFloat).cpu().contiguous();
      h.update(f.data_ptr<float>(), static_cast<size_t>(f.numel()) * sizeof(float));
    }
  }
  return h.hex();
}

namespace {

json stats_json(const ChannelStats& s, const std::map<int64_t, ChannelClusters>& clusters) {
  json labels = json::object();
  for (const auto& [g, c] : clusters) labels[std::to_string(g)] = c.labels;
  return {{"min", s.min}, {"max", s.max}, {"absmax", s.absmax}, {"labels", labels}};
}

// JSON integers only: get<int64_t>() of a float such as 1e300 is undefined behaviour (found by
// fuzzing); the callers turn the runtime_error into a FileError naming the file.
int64_t int_of(const json& v, const std::string& what) {
  if (!v.is_number_integer()) throw std::runtime_error(what + " must be an integer");
  return v.get<int64_t>();
}

std::vector<int64_t> ints_of(const json& v, const std::string& what) {
  if (!v.is_array()) throw std::runtime_error(what + " must be an array of integers");
  std::vector<int64_t> out;
  for (const json& x : v) out.push_back(int_of(x, what + " entry"));
  return out;
}

// `where` ("layer 3 K") prefixes the messages; the caller adds the file name.
void stats_from_json(const json& j, int64_t C, ChannelStats& s, std::map<int64_t, ChannelClusters>& clusters,
                     const std::vector<int64_t>& group_sizes, const std::string& where) {
  s.min = j.at("min").get<std::vector<float>>();
  s.max = j.at("max").get<std::vector<float>>();
  s.absmax = j.at("absmax").get<std::vector<float>>();
  if (static_cast<int64_t>(s.min.size()) != C || static_cast<int64_t>(s.max.size()) != C ||
      static_cast<int64_t>(s.absmax.size()) != C)
    throw std::runtime_error(where + ": channel statistics do not have kv_channels entries");
  for (int64_t g : group_sizes) {
    const std::string group = where + ", group size " + std::to_string(g) + ": ";
    std::vector<int32_t> labels;
    for (int64_t label : ints_of(j.at("labels").at(std::to_string(g)), group + "label")) {
      if (label < INT32_MIN || label > INT32_MAX) throw std::runtime_error(group + "cluster label " + std::to_string(label) + " out of range");
      labels.push_back(static_cast<int32_t>(label));
    }
    if (static_cast<int64_t>(labels.size()) != C)
      throw std::runtime_error(group + std::to_string(labels.size()) + " labels for " + std::to_string(C) + " kv_channels");
    try {
      clusters[g] = clusters_from_labels(labels, static_cast<int>(C / g));
    } catch (const Error& e) {
      throw std::runtime_error(group + e.what());
    }
  }
}

}  // namespace

void Calibration::save(const std::string& path) const {
  json j;
  j["format"] = "skvq-calibration";
  j["version"] = 1;
  j["model"] = {{"name", model_name}, {"sha256", model_sha256}, {"weights_fingerprint", weights_fingerprint},
                {"weights_dtype", weights_dtype},
                {"num_layers", num_layers}, {"kv_channels", kv_channels}};
  j["text"] = {{"path", text_path}, {"sha256", text_sha256}};
  j["samples"] = samples;
  j["seq_len"] = seq_len;
  j["seed"] = seed;
  j["group_sizes"] = group_sizes;
  j["layers"] = json::array();
  for (const auto& l : layers) j["layers"].push_back({{"k", stats_json(l.k, l.k_clusters)}, {"v", stats_json(l.v, l.v_clusters)}});
  // Write to a temporary file and rename, so a failed write never leaves half a calibration.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, "cannot be written (directory missing or not writable)");
    out << j.dump(1) << "\n";
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp);
      throw FileError(path, "write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw FileError(path, "cannot be written: " + ec.message());
}

Calibration Calibration::load(const std::string& path) {
  const std::string text = read_file(path);
  Calibration c;
  try {
    json j = json::parse(text);
    if (!j.is_object() || j.value("format", "") != "skvq-calibration")
      throw std::runtime_error("not an skvq calibration file (format field missing)");
    if (int_of(j.at("version"), "version") != 1) throw std::runtime_error("unsupported calibration version " + j.at("version").dump());
    const auto& m = j.at("model");
    c.model_name = m.at("name").get<std::string>();
    c.model_sha256 = m.at("sha256").get<std::string>();
    c.weights_fingerprint = m.at("weights_fingerprint").get<std::string>();
    c.weights_dtype = m.value("weights_dtype", std::string("float32"));  // absent in older files
    c.num_layers = int_of(m.at("num_layers"), "num_layers");
    c.kv_channels = int_of(m.at("kv_channels"), "kv_channels");
    c.text_path = j.at("text").at("path").get<std::string>();
    c.text_sha256 = j.at("text").at("sha256").get<std::string>();
    c.samples = int_of(j.at("samples"), "samples");
    c.seq_len = int_of(j.at("seq_len"), "seq_len");
    int_of(j.at("seed"), "seed");
    c.seed = j.at("seed").get<uint64_t>();
    c.group_sizes = ints_of(j.at("group_sizes"), "group_sizes");
    for (int64_t g : c.group_sizes)
      if (g <= 0 || c.kv_channels % g != 0) throw std::runtime_error("group size " + std::to_string(g) + " does not divide kv_channels");
    const auto& layers = j.at("layers");
    if (static_cast<int64_t>(layers.size()) != c.num_layers) throw std::runtime_error("layer count differs from num_layers");
    for (const auto& lj : layers) {
      LayerCalibration l;
      const std::string layer = "layer " + std::to_string(c.layers.size());
      stats_from_json(lj.at("k"), c.kv_channels, l.k, l.k_clusters, c.group_sizes, layer + " K");
      stats_from_json(lj.at("v"), c.kv_channels, l.v, l.v_clusters, c.group_sizes, layer + " V");
      c.layers.push_back(std::move(l));
    }
  } catch (const json::exception& e) {
    throw FileError(path, std::string("malformed or truncated calibration file: ") + e.what());
  } catch (const std::exception& e) {  // also ConfigError from the cluster labels
    throw FileError(path, std::string("invalid calibration file: ") + e.what());
  }
  c.source_path = path;
  return c;
}

void Calibration::check_model(const ModelWeights& w, const std::string& calib_path) const {
  const auto& mc = w.config;
  if (num_layers != mc.num_hidden_layers || kv_channels != mc.kv_channels())
    throw ConfigError(calib_path + ": calibration made for a model with " + std::to_string(num_layers) + " layers x " +
                      std::to_string(kv_channels) + " K/V channels (" + model_name + "), but " + w.name + " has " +
                      std::to_string(mc.num_hidden_layers) + " x " + std::to_string(mc.kv_channels()));
  // K/V weights rounded to another dtype than float32 (--dtype bfloat16), now or when the
  // calibration was made, hash differently from the float32 weights: for them the same
  // checkpoint file (sha256) is the same model. float32 on both sides must match exactly
  // (which also accepts a converted copy of the same weights).
  const bool rounded = weights_dtype != "float32" || (!w.layers.empty() && w.layers[0].k_proj.scalar_type() != at::kFloat);
  if (rounded && !model_sha256.empty() && model_sha256 == w.sha256) return;
  if (weights_fingerprint != kv_weights_fingerprint(w))
    throw ConfigError(calib_path + ": calibration made for another model (" + model_name +
                      ", K/V weights differ from " + w.name + "); calibrate this model with `skvq calibrate`");
}

}  // namespace skvq
