#pragma once
// Text scores of the long-context evaluations (needle-in-a-haystack, LongBench, L-Eval) and two
// small helpers they share: middle truncation of a token sequence and log-spaced distance bins.
// The scores follow the LongBench reference scorer (metrics.py) and the rouge_score package.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skvq {

/// Replaces every "{name}" of `tmpl` that `values` names (pairs of "{name}" and text), left to
/// right in one pass: inserted text is never scanned again. Unknown braces stay as they are.
std::string fill_placeholders(const std::string& tmpl,
                              std::initializer_list<std::pair<std::string_view, std::string_view>> values);

/// SQuAD/LongBench answer normalization: lower-case (ASCII), remove ASCII punctuation, replace
/// the articles "a", "an", "the" (whole words) by spaces, collapse whitespace to single spaces
/// and trim. Example: "The  Cat, sat!" -> "cat sat".
std::string normalize_answer(const std::string& s);

/// Whitespace tokens of normalize_answer(s).
std::vector<std::string> answer_tokens(const std::string& s);

/// Tokens for ROUGE as the rouge_score package makes them: lower-case, every character other
/// than [a-z0-9] becomes a separator. "Dolores-Park!" -> {"dolores", "park"}.
std::vector<std::string> rouge_tokens(const std::string& s);

/// Token-level F1 of bags of tokens: common = multiset intersection; 0 when nothing is common
/// (also when either side is empty); else 2PR/(P+R) with P = common/|pred|, R = common/|ref|.
double token_f1(const std::vector<std::string>& pred, const std::vector<std::string>& ref);

/// LongBench qa_f1_score: token_f1 of answer_tokens(prediction) and answer_tokens(reference).
double qa_f1(const std::string& prediction, const std::string& reference);

/// ROUGE-1 F1 (unigram overlap with clipped counts) over rouge_tokens; 0 if either is empty.
double rouge1_f1(const std::string& prediction, const std::string& reference);

/// ROUGE-L F1 over rouge_tokens: LCS length l, P = l/|pred|, R = l/|ref|, F = 2PR/(P+R);
/// 0 if either is empty or l = 0.
double rougeL_f1(const std::string& prediction, const std::string& reference);

/// Length of the longest common subsequence of two token sequences (O(n*m) time, O(m) memory).
int64_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b);

/// LongBench classification_score: the classes of `all_classes` that occur as substrings of
/// `prediction` are matched; a match that is a substring of the reference but not equal to it is
/// dropped; the score is 1/(number of matches) if the reference is among them, else 0.
double classification_score(const std::string& prediction, const std::string& reference,
                            const std::vector<std::string>& all_classes);

/// LongBench retrieval_score (passage retrieval): the id is the number after "Paragraph " in the
/// reference (or the reference's first number when it has no "Paragraph N"); the score is the
/// fraction of the numbers (maximal digit runs) in `prediction` that equal it; 0 without
/// numbers in the prediction or in the reference.
double retrieval_score(const std::string& prediction, const std::string& reference);

/// LongBench count_score (passage count): fraction of the numbers in `prediction` equal to the
/// reference string; 0 without numbers.
double count_score(const std::string& prediction, const std::string& reference);

/// Levenshtein ratio as python-Levenshtein / fuzzywuzzy compute it: (|a|+|b| - d)/(|a|+|b|)
/// where d is the edit distance with substitution cost 2 (= 2*LCS/(|a|+|b|) over bytes); 0 when
/// either string is empty (fuzzywuzzy's rule).
double levenshtein_ratio(const std::string& a, const std::string& b);

/// LongBench code_sim_score: the first line of `prediction` (leading newlines stripped) that
/// contains none of "`", "#", "//" (empty if none) compared with the reference by
/// round(100 * levenshtein_ratio) / 100 (fuzz.ratio / 100).
double code_sim_score(const std::string& prediction, const std::string& reference);

/// True when normalize_answer(reference) occurs in normalize_answer(prediction) as a run of
/// whole words; false for an empty reference (0/1 score for
/// key-phrase checks such as the needle's "eat a sandwich and sit in Dolores Park").
bool contains_normalized(const std::string& prediction, const std::string& reference);

/// Keeps at most `max_len` tokens of `tokens`: when longer, the first max_len/2 (rounded down)
/// and the last max_len - max_len/2 tokens (LongBench's middle truncation), so the result has
/// exactly max_len tokens. max_len <= 0 returns an empty sequence.
template <typename T>
std::vector<T> truncate_middle(const std::vector<T>& tokens, int64_t max_len) {
  if (max_len <= 0) return {};
  if (static_cast<int64_t>(tokens.size()) <= max_len) return tokens;
  const int64_t first = max_len / 2, last = max_len - first;
  std::vector<T> out(tokens.begin(), tokens.begin() + first);
  out.insert(out.end(), tokens.end() - last, tokens.end());
  return out;
}

/// Log-spaced, left-closed bins of non-negative integer distances covering 0..max_distance:
/// edges 0, 1, 2, 4, 8, ... (powers of 2) up to the first power of 2 greater than max_distance;
/// bin b holds distances d with edges[b] <= d < edges[b+1]. max_distance 0 gives {0, 1}.
/// Throws ConfigError when max_distance < 0.
std::vector<int64_t> log_distance_bin_edges(int64_t max_distance);

/// Index of the bin of `d` for `edges` (from log_distance_bin_edges or any rising edges):
/// the b with edges[b] <= d < edges[b+1]; -1 when d is outside [edges.front(), edges.back()).
int64_t distance_bin(const std::vector<int64_t>& edges, int64_t d);

}  // namespace skvq
