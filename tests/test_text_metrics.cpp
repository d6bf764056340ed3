// Text scores: every value below is computed by hand from the strings in the test.
#include <gtest/gtest.h>

#include "skvq/error.h"
#include "skvq/text_metrics.h"

using namespace skvq;

TEST(TextMetrics, NormalizeAnswer) {
  EXPECT_EQ(normalize_answer("The  Cat, sat!"), "cat sat");
  EXPECT_EQ(normalize_answer("An apple a day; THE end."), "apple day end");
  // Articles only as whole words; punctuation removed before article removal ("the," -> "the").
  EXPECT_EQ(normalize_answer("theater, anatomy, the, a."), "theater anatomy");
  EXPECT_EQ(normalize_answer("  \n\t "), "");
  EXPECT_EQ(answer_tokens("Paris, France").size(), 2u);
}

TEST(TextMetrics, RougeTokens) {
  auto t = rouge_tokens("Dolores-Park! on a SUNNY day 42");
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[0], "dolores");
  EXPECT_EQ(t[1], "park");
  EXPECT_EQ(t[4], "sunny");
  EXPECT_EQ(t[6], "42");
}

TEST(TextMetrics, QaF1) {
  // pred {cat, sat, mat}, ref {cat, on, mat}: common 2, P = R = 2/3, F1 = 2/3.
  EXPECT_NEAR(qa_f1("The cat sat mat", "a cat on the mat"), 2.0 / 3.0, 1e-12);
  // pred {paris}, ref {paris, france}: P = 1, R = 1/2, F1 = 2/3.
  EXPECT_NEAR(qa_f1("Paris.", "Paris, France"), 2.0 / 3.0, 1e-12);
  // Clipped counts: pred {dog, dog, dog}, ref {dog, cat}: common 1, P = 1/3, R = 1/2, F = 0.4.
  EXPECT_NEAR(qa_f1("dog dog dog", "dog cat"), 0.4, 1e-12);
  EXPECT_EQ(qa_f1("nothing", "else"), 0.0);
  EXPECT_EQ(qa_f1("", "x"), 0.0);
  EXPECT_EQ(qa_f1("The", "the"), 0.0);  // both normalize to nothing
}

TEST(TextMetrics, Rouge1AndRougeL) {
  const std::string ref = "the cat sat on the mat";   // 6 tokens
  const std::string pred = "the cat on mat";           // 4 tokens
  // ROUGE-1: overlap the, cat, on, mat = 4; P = 1, R = 4/6; F = 2*(2/3)/(5/3) = 0.8.
  EXPECT_NEAR(rouge1_f1(pred, ref), 0.8, 1e-12);
  // LCS "the cat on mat" = 4, same P and R: 0.8.
  EXPECT_NEAR(rougeL_f1(pred, ref), 0.8, 1e-12);
  // Order matters for ROUGE-L: pred "mat on cat the" vs ref: LCS = 2 ("cat the" or "on the"),
  // P = 2/4, R = 2/6, F = 2*(1/6)/(5/6) = 0.4. ROUGE-1 stays 0.8.
  EXPECT_NEAR(rougeL_f1("mat on cat the", ref), 0.4, 1e-12);
  EXPECT_NEAR(rouge1_f1("mat on cat the", ref), 0.8, 1e-12);
  EXPECT_NEAR(rougeL_f1("Eat a sandwich!", "eat a sandwich"), 1.0, 1e-12);
  EXPECT_EQ(rougeL_f1("", ref), 0.0);
  EXPECT_EQ(lcs_length({"a", "b", "c", "b", "d"}, {"b", "d", "c", "a", "b"}), 3);
}

TEST(TextMetrics, ClassificationScore) {
  std::vector<std::string> classes{"Sports", "Sports News", "Weather"};
  EXPECT_EQ(classification_score("Weather", "Weather", classes), 1.0);
  // "Sports" and "Sports News" both match; "Sports" is a substring of the reference
  // "Sports News" but not equal -> dropped; 1 match left -> 1.
  EXPECT_EQ(classification_score("It is Sports News", "Sports News", classes), 1.0);
  // Two matches that both stay (reference "Weather"): 1/2.
  EXPECT_EQ(classification_score("Weather or Sports", "Weather", classes), 0.5);
  EXPECT_EQ(classification_score("Sports", "Weather", classes), 0.0);
  EXPECT_EQ(classification_score("nothing", "Weather", classes), 0.0);
}

TEST(TextMetrics, RetrievalAndCount) {
  EXPECT_EQ(retrieval_score("Paragraph 3", "Paragraph 3"), 1.0);
  // numbers 3, 12, 3: two of three equal 3.
  EXPECT_NEAR(retrieval_score("Paragraph 3, maybe 12 or 3", "Paragraph 3"), 2.0 / 3.0, 1e-12);
  EXPECT_EQ(retrieval_score("Paragraph 30", "Paragraph 3"), 0.0);
  EXPECT_EQ(retrieval_score("no number", "Paragraph 3"), 0.0);
  EXPECT_EQ(count_score("There are 7 passages, 7 unique", "7"), 1.0);
  EXPECT_EQ(count_score("5 or 7 or 9 or 11", "7"), 0.25);
  EXPECT_EQ(count_score("none", "7"), 0.0);
}

TEST(TextMetrics, CodeSimilarity) {
  // Levenshtein ratio (substitution cost 2): "kitten" vs "sitting": LCS = 4 ("ittn"),
  // 2*4/13 = 0.6154.
  EXPECT_NEAR(levenshtein_ratio("kitten", "sitting"), 8.0 / 13.0, 1e-12);
  EXPECT_EQ(levenshtein_ratio("", "x"), 0.0);
  // First line without ` # // is "x = 1"; vs "x = 2": LCS 4 of 10 -> 0.8.
  EXPECT_NEAR(code_sim_score("\n\n```python\n# set x\nx = 1\ny = 2", "x = 2"), 0.8, 1e-12);
  // "abc" vs "abd": 2*2/6 = 0.6667 -> round(66.67)/100 = 0.67.
  EXPECT_NEAR(code_sim_score("abc", "abd"), 0.67, 1e-12);
  // Every line is a comment: the empty line is compared -> 0.
  EXPECT_EQ(code_sim_score("# a\n// b", "abc"), 0.0);
}

TEST(TextMetrics, ContainsNormalized) {
  const std::string key = "eat a sandwich and sit in Dolores Park";
  EXPECT_TRUE(contains_normalized("The best thing is to eat a sandwich and sit in Dolores Park.", key));
  EXPECT_TRUE(contains_normalized("EAT the sandwich, and sit in dolores park!", key));
  EXPECT_FALSE(contains_normalized("eat a sandwich and sit in the park", key));
  EXPECT_FALSE(contains_normalized("anything", ""));
}

TEST(TextMetrics, TruncateMiddle) {
  std::vector<int> t{1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(truncate_middle(t, 4), (std::vector<int>{1, 2, 6, 7}));
  EXPECT_EQ(truncate_middle(t, 5), (std::vector<int>{1, 2, 5, 6, 7}));
  EXPECT_EQ(truncate_middle(t, 7), t);
  EXPECT_EQ(truncate_middle(t, 100), t);
  EXPECT_TRUE(truncate_middle(t, 0).empty());
}

TEST(TextMetrics, LogDistanceBins) {
  EXPECT_EQ(log_distance_bin_edges(0), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(log_distance_bin_edges(5), (std::vector<int64_t>{0, 1, 2, 4, 8}));
  EXPECT_EQ(log_distance_bin_edges(8), (std::vector<int64_t>{0, 1, 2, 4, 8, 16}));
  auto e = log_distance_bin_edges(199);
  EXPECT_EQ(e.back(), 256);
  EXPECT_EQ(e.size(), 10u);
  EXPECT_EQ(distance_bin(e, 0), 0);
  EXPECT_EQ(distance_bin(e, 1), 1);
  EXPECT_EQ(distance_bin(e, 2), 2);
  EXPECT_EQ(distance_bin(e, 3), 2);
  EXPECT_EQ(distance_bin(e, 4), 3);
  EXPECT_EQ(distance_bin(e, 199), 8);
  EXPECT_EQ(distance_bin(e, 256), -1);
  EXPECT_EQ(distance_bin(e, -1), -1);
  EXPECT_THROW(log_distance_bin_edges(-1), ConfigError);
}
