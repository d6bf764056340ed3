// k-means on 2-D points with k-means++ initialisation and restarts (calibration, section 3).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "skvq/calibration.h"
#include "skvq/error.h"

namespace skvq {

namespace {

struct Run {
  std::vector<int32_t> labels;
  std::vector<double> cx, cy;
  double inertia = std::numeric_limits<double>::infinity();
};

double sq(double a) { return a * a; }

Run lloyd(const std::vector<float>& x, const std::vector<float>& y, int k, uint64_t seed, int iterations) {
  const size_t n = x.size();
  std::mt19937_64 rng(seed);
  Run r;
  // k-means++: first centre uniform, the next ones with probability proportional to D^2.
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  size_t first = pick(rng);
  r.cx.push_back(x[first]);
  r.cy.push_back(y[first]);
  std::vector<double> d2(n);
  for (int c = 1; c < k; ++c) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      double best = std::numeric_limits<double>::infinity();
      for (size_t j = 0; j < r.cx.size(); ++j) best = std::min(best, sq(x[i] - r.cx[j]) + sq(y[i] - r.cy[j]));
      d2[i] = best;
      total += best;
    }
    size_t chosen = 0;
    if (total > 0) {
      double u = std::uniform_real_distribution<double>(0, total)(rng);
      for (chosen = 0; chosen + 1 < n && u >= d2[chosen]; ++chosen) u -= d2[chosen];
    } else {
      chosen = pick(rng);
    }
    r.cx.push_back(x[chosen]);
    r.cy.push_back(y[chosen]);
  }
  r.labels.assign(n, -1);
  for (int it = 0; it < iterations; ++it) {
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      int best = 0;
      double bd = std::numeric_limits<double>::infinity();
      for (int j = 0; j < k; ++j) {
        double d = sq(x[i] - r.cx[j]) + sq(y[i] - r.cy[j]);
        if (d < bd) bd = d, best = j;
      }
      if (r.labels[i] != best) r.labels[i] = best, changed = true;
    }
    std::vector<double> sx(k, 0), sy(k, 0);
    std::vector<int64_t> cnt(k, 0);
    for (size_t i = 0; i < n; ++i) sx[r.labels[i]] += x[i], sy[r.labels[i]] += y[i], ++cnt[r.labels[i]];
    for (int j = 0; j < k; ++j) {
      if (cnt[j] > 0) {
        r.cx[j] = sx[j] / cnt[j];
        r.cy[j] = sy[j] / cnt[j];
      } else {
        // Empty cluster: move it to the point farthest from its centre.
        size_t far = 0;
        double fd = -1;
        for (size_t i = 0; i < n; ++i) {
          double d = sq(x[i] - r.cx[r.labels[i]]) + sq(y[i] - r.cy[r.labels[i]]);
          if (d > fd) fd = d, far = i;
        }
        r.cx[j] = x[far];
        r.cy[j] = y[far];
        changed = true;
      }
    }
    if (!changed) break;
  }
  r.inertia = 0;
  for (size_t i = 0; i < n; ++i) r.inertia += sq(x[i] - r.cx[r.labels[i]]) + sq(y[i] - r.cy[r.labels[i]]);
  return r;
}

}  // namespace

std::vector<int32_t> kmeans_2d(const std::vector<float>& x, const std::vector<float>& y, int k,
                               uint64_t seed, int restarts, int iterations) {
  const size_t n = x.size();
  if (y.size() != n) throw ConfigError("kmeans_2d: x and y differ in length");
  if (k < 1 || static_cast<size_t>(k) > n)
    throw ConfigError("kmeans_2d: cannot make " + std::to_string(k) + " clusters of " + std::to_string(n) + " points");
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
      throw ConfigError("kmeans_2d: point " + std::to_string(i) + " is not finite (" + std::to_string(x[i]) + ", " +
                        std::to_string(y[i]) + ")");
  Run best;
  for (int r = 0; r < std::max(1, restarts); ++r) {
    Run run = lloyd(x, y, k, seed * 1000003ULL + static_cast<uint64_t>(r), iterations);
    if (run.inertia < best.inertia || best.labels.empty()) best = std::move(run);
  }
  // Canonical numbering: by rising centre x, then y (only non-empty clusters exist after Lloyd).
  std::vector<int> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return best.cx[a] != best.cx[b] ? best.cx[a] < best.cx[b] : best.cy[a] < best.cy[b];
  });
  std::vector<int32_t> rename(k);
  for (int i = 0; i < k; ++i) rename[order[i]] = i;
  std::vector<int32_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = rename[best.labels[i]];
  return labels;
}

ChannelClusters clusters_from_labels(const std::vector<int32_t>& labels, int k) {
  ChannelClusters c;
  c.labels = labels;
  const int64_t n = static_cast<int64_t>(labels.size());
  c.perm.resize(n);
  std::iota(c.perm.begin(), c.perm.end(), 0);
  std::stable_sort(c.perm.begin(), c.perm.end(), [&](int64_t a, int64_t b) { return labels[a] < labels[b]; });
  c.offsets.assign(1, 0);
  std::vector<int64_t> count(k, 0);
  for (int32_t l : labels) {
    if (l < 0 || l >= k) throw ConfigError("cluster label " + std::to_string(l) + " outside 0.." + std::to_string(k - 1));
    ++count[l];
  }
  for (int j = 0; j < k; ++j)
    if (count[j] > 0) c.offsets.push_back(c.offsets.back() + count[j]);
  return c;
}

}  // namespace skvq
