#pragma once
// Cheap checks of the wizard's model path, done on every edit on the GUI thread: they read at
// most a header (28 bytes of a llama2.c file, 4 of a GGUF file) and never the weights.
#include <QString>

namespace skvq::studio {

struct ModelPathCheck {
  bool ok = false;
  QString kind;     ///< "llama2.c checkpoint", "GGUF file" or "Hugging Face directory" when ok
  QString problem;  ///< "<path>: <problem>" when not ok
};

/// Whether `path` names a model the engine can load: a directory with config.json, a file that
/// starts with the GGUF magic, or a file whose llama2.c header (read_llama2c_header) is sane.
ModelPathCheck check_model_path(const QString& path);

/// Empty when `path` is empty (tokenizer found beside the model) or an existing file or
/// directory; the problem otherwise.
QString check_tokenizer_path(const QString& path);

}  // namespace skvq::studio
