#pragma once
// Load-time sanity check of a model's tensors (issue 9: NaN/Inf weights used to crash
// calibrate/analyze in k-means and give "done" runs with PPL NaN).
#include "skvq/weights.h"

namespace skvq {

/// Throws FileError naming w.source_path and the first tensor (Hugging Face name, e.g.
/// "model.layers.3.self_attn.k_proj.weight") that holds a NaN or an infinity.
void check_finite(const ModelWeights& w);

}  // namespace skvq
