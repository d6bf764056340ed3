#include "wizard_model_check.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "skvq/memory.h"

namespace skvq::studio {

namespace {
QString tr(const char* s) { return QCoreApplication::translate("ModelPathCheck", s); }

// The engine's is_gguf_file without its LibTorch headers (engine.cpp alone includes those).
bool starts_with_gguf_magic(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) && f.read(4) == QByteArrayLiteral("GGUF");
}

ModelPathCheck problem(const QString& path, const QString& what) {
  return {false, {}, QStringLiteral("%1: %2").arg(path, what)};
}
}  // namespace

ModelPathCheck check_model_path(const QString& path) {
  if (path.trimmed().isEmpty()) return {false, {}, tr("Give a model file or directory.")};
  const QFileInfo fi(path);
  if (!fi.exists()) return problem(path, tr("no such file or directory"));
  if (fi.isDir()) {
    if (!QFileInfo::exists(QDir(path).filePath(QStringLiteral("config.json"))))
      return problem(path, tr("directory without config.json (expected a Hugging Face model directory)"));
    return {true, tr("Hugging Face directory"), {}};
  }
  if (!fi.isReadable()) return problem(path, tr("not readable"));
  const std::string p = path.toStdString();
  if (starts_with_gguf_magic(path)) return {true, tr("GGUF file"), {}};
  try {
    read_llama2c_header(p);
  } catch (const std::exception& e) {
    return {false, {}, tr("%1 (not a GGUF file either)").arg(QString::fromStdString(e.what()))};
  }
  return {true, tr("llama2.c checkpoint"), {}};
}

QString check_tokenizer_path(const QString& path) {
  if (path.trimmed().isEmpty() || QFileInfo::exists(path)) return {};
  return QStringLiteral("%1: %2").arg(path, tr("no such tokenizer file"));
}

}  // namespace skvq::studio
