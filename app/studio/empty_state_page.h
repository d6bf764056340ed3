#pragma once
// What the main window shows instead of an empty run browser: what to do first (open a run
// store, calibrate a model, evaluate), and a check of the data and model directories with
// what is missing and how to get it, linking to Settings.
#include <QWidget>

class QLabel;

namespace skvq::studio {

class EmptyStatePage : public QWidget {
  Q_OBJECT
 public:
  explicit EmptyStatePage(QWidget* parent = nullptr);
  /// Re-checks the directories (data directory `dataDir`, model cache `modelsDir`).
  void check(const QString& dataDir, const QString& modelsDir);
  QString checkText() const;

 Q_SIGNALS:
  void openStoreRequested();
  void calibrateRequested();
  void settingsRequested();

 private:
  QLabel* checks_;
};

}  // namespace skvq::studio
