#pragma once
// The BPE merge loop both tokenizers share (llama2.c by score, tokenizer.json by rank).
#include <cstdint>
#include <queue>
#include <vector>

namespace skvq {

/// Merges adjacent symbols of `ids` in place until no pair merges, the pair with the highest
/// priority first and the leftmost one on ties, using a heap of candidate pairs over a linked
/// list (O(n log n) rather than run.c's quadratic rescans).
/// find(left_id, right_id, &priority, &merged) returns true when the pair merges into `merged`.
template <class Find>
void bpe_merge(std::vector<int32_t>& ids, Find&& find) {
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;
  std::vector<int> next(n), prev(n);
  for (int i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  struct Cand {
    double priority;
    int left, right;
    int32_t left_id, right_id, merged;
  };
  auto worse = [](const Cand& x, const Cand& y) {
    if (x.priority != y.priority) return x.priority < y.priority;
    return x.left > y.left;
  };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
  auto push = [&](int l) {
    if (l < 0 || next[l] < 0) return;
    const int r = next[l];
    double priority = 0;
    int32_t merged = 0;
    if (find(ids[l], ids[r], &priority, &merged)) heap.push({priority, l, r, ids[l], ids[r], merged});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<char> alive(n, 1);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || ids[c.left] != c.left_id ||
        ids[c.right] != c.right_id)
      continue;  // stale: one side merged since this candidate was pushed
    ids[c.left] = c.merged;
    alive[c.right] = 0;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    push(prev[c.left]);
    push(c.left);
  }
  int w = 0;
  for (int i = 0; i >= 0; i = next[i]) ids[w++] = ids[i];
  ids.resize(w);
}

}  // namespace skvq
