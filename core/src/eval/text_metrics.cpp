// Text scores of the long-context evaluations (LongBench metrics.py, rouge_score semantics).
#include "skvq/text_metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "skvq/error.h"

namespace skvq {
namespace {

bool is_ascii_punct(unsigned char c) { return c < 128 && std::ispunct(c); }

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : s) {
    if (std::isspace(c)) {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur += static_cast<char>(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string join(const std::vector<std::string>& w) {
  std::string out;
  for (size_t i = 0; i < w.size(); ++i) {
    if (i) out += ' ';
    out += w[i];
  }
  return out;
}

// Maximal runs of ASCII digits.
std::vector<std::string> numbers_in(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : s) {
    if (c >= '0' && c <= '9') {
      cur += static_cast<char>(c);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

double fraction_equal(const std::vector<std::string>& nums, const std::string& target) {
  if (nums.empty()) return 0.0;
  int64_t right = std::count(nums.begin(), nums.end(), target);
  return static_cast<double>(right) / static_cast<double>(nums.size());
}

double f_from_pr(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

}  // namespace

std::string fill_placeholders(const std::string& tmpl,
                              std::initializer_list<std::pair<std::string_view, std::string_view>> values) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    bool replaced = false;
    for (const auto& [key, value] : values) {
      if (tmpl.compare(i, key.size(), key) == 0) {
        out += value;
        i += key.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += tmpl[i++];
  }
  return out;
}

std::string normalize_answer(const std::string& s) {
  std::string t;
  t.reserve(s.size());
  for (unsigned char c : s) {
    if (is_ascii_punct(c)) continue;
    t += static_cast<char>(c < 128 ? std::tolower(c) : c);
  }
  std::vector<std::string> words = split_ws(t), kept;
  for (auto& w : words)
    if (w != "a" && w != "an" && w != "the") kept.push_back(std::move(w));
  return join(kept);
}

std::vector<std::string> answer_tokens(const std::string& s) { return split_ws(normalize_answer(s)); }

std::vector<std::string> rouge_tokens(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : s) {
    unsigned char l = c < 128 ? static_cast<unsigned char>(std::tolower(c)) : c;
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      cur += static_cast<char>(l);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

double token_f1(const std::vector<std::string>& pred, const std::vector<std::string>& ref) {
  if (pred.empty() || ref.empty()) return 0.0;
  std::map<std::string, int64_t> cp, cr;
  for (auto& t : pred) ++cp[t];
  for (auto& t : ref) ++cr[t];
  int64_t same = 0;
  for (auto& [tok, n] : cp)
    if (auto it = cr.find(tok); it != cr.end()) same += std::min(n, it->second);
  if (same == 0) return 0.0;
  double p = static_cast<double>(same) / pred.size(), r = static_cast<double>(same) / ref.size();
  return f_from_pr(p, r);
}

double qa_f1(const std::string& prediction, const std::string& reference) {
  return token_f1(answer_tokens(prediction), answer_tokens(reference));
}

double rouge1_f1(const std::string& prediction, const std::string& reference) {
  return token_f1(rouge_tokens(prediction), rouge_tokens(reference));
}

int64_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<int64_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double rougeL_f1(const std::string& prediction, const std::string& reference) {
  auto p = rouge_tokens(prediction), r = rouge_tokens(reference);
  if (p.empty() || r.empty()) return 0.0;
  int64_t l = lcs_length(p, r);
  if (l == 0) return 0.0;
  return f_from_pr(static_cast<double>(l) / p.size(), static_cast<double>(l) / r.size());
}

double classification_score(const std::string& prediction, const std::string& reference,
                            const std::vector<std::string>& all_classes) {
  std::vector<std::string> matches;
  for (auto& c : all_classes)
    if (prediction.find(c) != std::string::npos) matches.push_back(c);
  std::vector<std::string> kept;
  for (auto& m : matches)
    if (!(reference.find(m) != std::string::npos && m != reference)) kept.push_back(m);
  if (std::find(kept.begin(), kept.end(), reference) == kept.end()) return 0.0;
  return 1.0 / static_cast<double>(kept.size());
}

double retrieval_score(const std::string& prediction, const std::string& reference) {
  std::string id;
  const std::string tag = "Paragraph ";
  for (size_t pos = reference.find(tag); pos != std::string::npos;
       pos = reference.find(tag, pos + 1)) {
    size_t k = pos + tag.size();
    std::string digits;
    while (k < reference.size() && std::isdigit(static_cast<unsigned char>(reference[k])))
      digits += reference[k++];
    if (!digits.empty()) {
      id = digits;
      break;
    }
  }
  if (id.empty()) {
    auto nums = numbers_in(reference);
    if (nums.empty()) return 0.0;
    id = nums.front();
  }
  return fraction_equal(numbers_in(prediction), id);
}

double count_score(const std::string& prediction, const std::string& reference) {
  return fraction_equal(numbers_in(prediction), reference);
}

double levenshtein_ratio(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return 0.0;
  std::vector<int64_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return 2.0 * static_cast<double>(prev[b.size()]) / static_cast<double>(a.size() + b.size());
}

double code_sim_score(const std::string& prediction, const std::string& reference) {
  size_t start = prediction.find_first_not_of('\n');
  std::string rest = start == std::string::npos ? std::string() : prediction.substr(start);
  std::string chosen;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t nl = rest.find('\n', pos);
    std::string line = rest.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (line.find('`') == std::string::npos && line.find('#') == std::string::npos &&
        line.find("//") == std::string::npos) {
      chosen = line;
      break;
    }
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return std::round(100.0 * levenshtein_ratio(chosen, reference)) / 100.0;
}

bool contains_normalized(const std::string& prediction, const std::string& reference) {
  std::string p = " " + normalize_answer(prediction) + " ";
  std::string r = normalize_answer(reference);
  if (r.empty()) return false;
  return p.find(" " + r + " ") != std::string::npos;
}

std::vector<int64_t> log_distance_bin_edges(int64_t max_distance) {
  if (max_distance < 0) throw ConfigError("distance bins: max_distance must be >= 0");
  std::vector<int64_t> edges{0, 1};
  while (edges.back() <= max_distance) edges.push_back(edges.back() * 2);
  return edges;
}

int64_t distance_bin(const std::vector<int64_t>& edges, int64_t d) {
  if (edges.size() < 2 || d < edges.front() || d >= edges.back()) return -1;
  auto it = std::upper_bound(edges.begin(), edges.end(), d);
  return static_cast<int64_t>(it - edges.begin()) - 1;
}

}  // namespace skvq
