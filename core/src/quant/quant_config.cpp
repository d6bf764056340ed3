// Configuration strings (skvq-method.md section 5): parse, print, validate, bit accounting.
#include "skvq/quant_config.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <locale>
#include <set>
#include <cstdlib>
#include <iomanip>
#include <sstream>
#include <vector>

#include "skvq/error.h"
#include "skvq/kv_method.h"
#include "skvq/model_config.h"

namespace skvq {

namespace {

constexpr double kDefaultClip = 0.92;  // "clip" alone: the reference scripts' default

std::vector<std::string> split_dash(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dash = s.find('-', start);
    out.emplace_back(s.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  return out;
}

// Strict decimal number: digits with at most one '.', nothing else (no sign, exponent, hex,
// "inf" or spaces: strtod would read "0x2" as 2). Parsed in the C locale.
bool parse_number(const std::string& s, double& out) {
  if (s.empty() || s == "." || s.find_first_not_of("0123456789.") != std::string::npos ||
      std::count(s.begin(), s.end(), '.') > 1)
    return false;
  std::istringstream in(s);
  in.imbue(std::locale::classic());
  in >> out;
  return !in.fail() && std::isfinite(out);
}

// A token count in the grammar (window, sink, group): no model has a context near this, and
// the caches allocate the window up front, so larger values are refused instead of attempted.
constexpr int64_t kMaxCount = int64_t{1} << 20;

// Plain decimal digits; values beyond kMaxCount come back as kMaxCount + 1 (no overflow).
bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = 0;
  for (char ch : s) {
    out = out * 10 + (ch - '0');
    if (out > kMaxCount) {
      out = kMaxCount + 1;
      break;
    }
  }
  return true;
}

bool valid_bits(double b) {
  for (double v : {0.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0})
    if (b == v) return true;
  return false;
}

// The methods' tokens as the "unknown option" message lists them.
std::string method_tokens() {
  std::string out;
  for (const KVMethod& m : kv_methods())
    if (!m.token.empty()) out += ", " + std::string(m.token);
  return out;
}

}  // namespace

// The shortest of 6..17 significant digits that parses back to `v` (so that parse(to_string(c))
// == c; found by fuzzing: clip0.944444444444... printed as 0.944444). Numbers with at most 6
// digits print as before, which keeps stored configuration strings unchanged.
std::string format_config_number(double v) {
  for (int digits = 6;; ++digits) {
    std::ostringstream s;
    s << std::setprecision(digits) << v;
    if (digits >= 17 || std::strtod(s.str().c_str(), nullptr) == v) return s.str();
  }
}

int32_t qmax_for_bits(double bits) {
  if (bits == 1.5) return 2;
  if (bits == 2 || bits == 3 || bits == 4 || bits == 8) return (1 << static_cast<int>(bits)) - 1;
  throw ConfigError("no integer quantizer for " + format_config_number(bits) + " bits (1.5, 2, 3, 4 or 8)");
}

double stored_code_bits(double bits) { return bits == 1.5 ? 1.6 : bits; }  // 0 (evicted): 0

double stored_bits_per_element(const QuantConfig& c, bool keys) {
  const double bits = keys ? c.k_bits : c.v_bits;
  if (c.method == QuantMethod::None || bits >= 16) return 16.0;
  if (bits == 0) return 0.0;  // evicted middle (methods/eviction.cpp): nothing stored
  if (c.group_size <= 0) return 16.0;
  double param_bits = c.fp8 ? 16.0 : 32.0;  // scale + zero-point: FP8 E4M3 or float16 each
  for (const KVMethod& m : kv_methods())
    if (m.param_bits && m.selected(c)) param_bits = m.param_bits(c);
  return stored_code_bits(bits) + param_bits / static_cast<double>(c.group_size);
}

QuantConfig QuantConfig::parse(std::string_view text) {
  const std::string whole(text);
  auto fail = [&](const std::string& field, const std::string& why) -> ConfigError {
    return ConfigError("configuration '" + whole + "': " + (field.empty() ? "" : field + ": ") + why);
  };
  if (whole.empty()) throw fail("", "empty configuration string");
  if (whole == "fp16" || whole == "fp32" || whole == "none" || whole == "bf16") return QuantConfig{};

  QuantConfig c;
  c.method = QuantMethod::SKVQ;
  std::set<std::string> seen;  // options given so far, by canonical name ("rod" is "reorder")
  const std::string at_most = " out of range (at most " + std::to_string(kMaxCount);
  for (const std::string& f : split_dash(text)) {
    if (f.empty()) throw fail("", "empty field (two dashes in a row or a trailing dash)");
    auto once = [&](const std::string& name) {
      if (!seen.insert(name).second) throw fail(f, "given twice (option '" + name + "' may appear once)");
    };
    auto starts_number = [&](size_t at) {
      return f.size() > at && (std::isdigit(static_cast<unsigned char>(f[at])) || f[at] == '.');
    };
    double num = 0;
    int64_t n = 0;
    if ((f[0] == 'k' || f[0] == 'v') && starts_number(1)) {
      once(f.substr(0, 1));
      if (!parse_number(f.substr(1), num) || !valid_bits(num))
        throw fail(f, "bits must be one of 0 (evicted), 1.5, 2, 3, 4, 8, 16");
      (f[0] == 'k' ? c.k_bits : c.v_bits) = num;
    } else if (f[0] == 'g' && starts_number(1)) {
      once("g");
      if (!parse_int(f.substr(1), n)) throw fail(f, "group size must be a positive integer");
      if (n <= 0) throw fail(f, "group size must be positive");
      if (n > kMaxCount) throw fail(f, "group size" + at_most + ")");
      c.group_size = n;
    } else if (f[0] == 'w' && starts_number(1)) {
      once("w");
      if (!parse_int(f.substr(1), n)) throw fail(f, "window must be a non-negative integer");
      if (n > kMaxCount) throw fail(f, "window" + at_most + " tokens)");
      c.window = n;
    } else if (f.rfind("sink", 0) == 0) {
      once("sink");
      if (!parse_int(f.substr(4), n)) throw fail(f, "sink must be 'sink<S>' with a non-negative integer S");
      if (n > kMaxCount) throw fail(f, "sink" + at_most + " tokens)");
      c.sink = n;
    } else if (f.rfind("clip", 0) == 0) {
      once("clip");
      if (f.size() == 4) {
        c.clip_ratio = kDefaultClip;
      } else if (!parse_number(f.substr(4), num) || num <= 0 || num > 1) {
        throw fail(f, "clip ratio must be in (0, 1], e.g. clip0.95");
      } else {
        c.clip_ratio = num;
      }
    } else if (f == "reorder" || f == "rod") {
      once("reorder");
      c.reorder = true;
    } else if (f == "smooth" || f == "pre_rope" || f == "fp8") {
      once(f);
      (f == "smooth" ? c.smooth : f == "fp8" ? c.fp8 : c.pre_rope) = true;
    } else if (const KVMethod* m = find_kv_method(f)) {
      once(std::string(m->token));
      m->select(c);
    } else {
      throw fail(f, "unknown option (known: k<bits>, v<bits>, g<group>, w<window>, reorder|rod, "
                    "smooth, pre_rope, clip[<ratio>], sink<S>, fp8" + method_tokens() + ")");
    }
  }
  if (!seen.count("k")) throw fail("", "missing key bits 'k<bits>'");
  if (!seen.count("v")) throw fail("", "missing value bits 'v<bits>'");
  const bool evicting = c.k_bits == 0 || c.v_bits == 0;
  if (!seen.count("g") && !evicting) throw fail("", "missing group size 'g<group>'");
  const MethodCheck check{seen, fail};
  for (const KVMethod& m : kv_methods()) {
    const bool applies = m.token.empty() ? m.selected(c) : seen.count(std::string(m.token)) > 0;
    if (applies && m.check) m.check(c, check);
  }
  return c;
}

std::string QuantConfig::to_string() const {
  if (method == QuantMethod::None) return "fp16";
  std::string s = "k";  // appended piece by piece: GCC 12 warns (-Wrestrict) on "literal" + string here
  s += format_config_number(k_bits);
  s += "-v";
  s += format_config_number(v_bits);
  if (group_size > 0 || !evicts()) s += "-g" + std::to_string(group_size);
  if (window > 0) s += "-w" + std::to_string(window);
  if (reorder) s += "-reorder";
  if (smooth) s += "-smooth";
  if (pre_rope) s += "-pre_rope";
  if (clip_ratio < 1.0) s += clip_ratio == kDefaultClip ? std::string("-clip") : "-clip" + format_config_number(clip_ratio);
  if (sink > 0) s += "-sink" + std::to_string(sink);
  if (fp8) s += "-fp8";
  for (const KVMethod& m : kv_methods())
    if (!m.token.empty() && m.selected(*this)) s.append("-").append(m.token);
  return s;
}

void QuantConfig::validate_for(const ModelConfig& model) const {
  if (is_unquantized() || evicts()) return;
  const int64_t C = model.kv_channels();
  const bool channel_groups_needed = method != QuantMethod::KIVI || quantizes_values();
  if (channel_groups_needed && (group_size > C || C % group_size != 0))
    throw ConfigError("configuration '" + to_string() + "': group size " + std::to_string(group_size) +
                      " does not fit the " + std::to_string(C) +
                      " K/V channels (num_key_value_heads x head_dim) of this model; use a divisor of " +
                      std::to_string(C));
  for (const KVMethod& m : kv_methods())
    if (m.check_model && m.selected(*this)) m.check_model(*this, model);
}

}  // namespace skvq
