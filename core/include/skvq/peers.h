#pragma once
// Rows measured on other systems (llama.cpp, Hugging Face) stored in the run store as kind
// "peer", so they sit next to our runs (bench/peers/run.sh writes build/peers/peers.json).
#include <cstdint>
#include <string>
#include <vector>

#include "skvq/run_store.h"

namespace skvq {

/// What import_peers did.
struct PeerImportResult {
  std::vector<int64_t> run_ids;  ///< stored (new or updated) peer runs, in file order
  int64_t updated = 0;           ///< of those, rows whose identity was already stored (replaced)
  int64_t skipped_own = 0;       ///< rows of system "skvq" (our own runs are stored by skvq ppl)
};

/// Reads a peers.json file: a JSON array of rows {system, version, config, model, model_sha256,
/// text, text_sha256, protocol, ctx_len, threads, bits_k, bits_v, kv_bytes_per_token, ppl,
/// tokens, prompt_tokens_per_s, decode_tokens_per_s: {"<context>": value}, peak_rss_mb}, where
/// system, version, config, model and model_sha256 (64 hex digits) are required and measured
/// values are numbers or null (not measured). Each row of another system than "skvq" becomes
/// a "peer" run: params {system, version, protocol, ctx_len, threads}, metrics the non-null
/// values; its model is the store's model of that sha256 (registered by name/path when new).
/// A row whose identity is stored already is updated in place (re-import is idempotent).
/// All rows are checked before anything is written. Throws FileError "<path>: row N: ..." on
/// a missing or malformed file or row; StoreError from the store.
PeerImportResult import_peers(RunStore& store, const std::string& path);

}  // namespace skvq
