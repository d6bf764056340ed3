#include "empty_state_page.h"

#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace skvq::studio {

EmptyStatePage::EmptyStatePage(QWidget* parent) : QWidget(parent) {
  setObjectName("emptyState");
  auto* intro = new QLabel(tr("<h2>No runs yet</h2>"
                              "<p>SKVQ Studio keeps every calibration and evaluation in a run store (SQLite).</p>"
                              "<ol><li><b>Calibrate a model</b>: pick a llama2.c file, a GGUF or a Hugging Face "
                              "directory and a text; the wizard groups the K/V channels.</li>"
                              "<li><b>Evaluate</b> configurations in the Comparison view (perplexity), or from "
                              "the command line (<tt>skvq ppl</tt>, <tt>skvq batch</tt>, <tt>skvq needle</tt>).</li>"
                              "<li>Or <b>open a run store</b> that already holds runs.</li></ol>"),
                           this);
  intro->setWordWrap(true);
  checks_ = new QLabel(this);
  checks_->setObjectName("directoryChecks");
  checks_->setWordWrap(true);
  checks_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* buttons = new QHBoxLayout;
  auto add = [&](const QString& text, const char* name, void (EmptyStatePage::*signal)()) {
    auto* b = new QPushButton(text, this);
    b->setObjectName(QString::fromLatin1(name));
    connect(b, &QPushButton::clicked, this, signal);
    buttons->addWidget(b);
  };
  add(tr("Open run store..."), "openStore", &EmptyStatePage::openStoreRequested);
  add(tr("Calibrate a model..."), "calibrate", &EmptyStatePage::calibrateRequested);
  add(tr("Settings..."), "settings", &EmptyStatePage::settingsRequested);
  buttons->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(24, 24, 24, 24);
  layout->addWidget(intro);
  layout->addLayout(buttons);
  layout->addWidget(checks_);
  layout->addStretch(1);
}

void EmptyStatePage::check(const QString& dataDir, const QString& modelsDir) {
  auto line = [](bool ok, const QString& text) {
    return QStringLiteral("<li>%1 %2</li>").arg(ok ? QStringLiteral("&#10003;") : QStringLiteral("&#10007;"), text);
  };
  const QString stories = QDir(dataDir).filePath(QStringLiteral("models/stories260K/stories260K.bin"));
  const QString wiki = QDir(dataDir).filePath(QStringLiteral("text/wikitext2/wiki.test.raw"));
  const QString smollm = QDir(modelsDir).filePath(QStringLiteral("SmolLM2-135M-Instruct.Q4_1.gguf"));
  QString html = tr("<h3>Data and models</h3><ul>");
  html += line(QFileInfo(dataDir).isDir(), tr("data directory <tt>%1</tt>%2").arg(dataDir.toHtmlEscaped(),
               QFileInfo(dataDir).isDir() ? QString() : tr(": missing; set it in Settings or with SKVQ_DATA_DIR")));
  html += line(QFileInfo::exists(wiki), tr("WikiText-2 <tt>%1</tt>%2").arg(wiki.toHtmlEscaped(),
               QFileInfo::exists(wiki) ? QString() : tr(": missing (calibration and perplexity text)")));
  html += line(QFileInfo::exists(stories), tr("stories260K test model <tt>%1</tt>").arg(stories.toHtmlEscaped()));
  html += line(QFileInfo::exists(smollm), tr("SmolLM2-135M-Instruct <tt>%1</tt>%2").arg(smollm.toHtmlEscaped(),
               QFileInfo::exists(smollm) ? QString() : tr(": missing; get it with <tt>bash scripts/fetch-models.sh</tt>")));
  checks_->setText(html + QStringLiteral("</ul>"));
}

QString EmptyStatePage::checkText() const { return checks_->text(); }

}  // namespace skvq::studio
