#pragma once
// Status-bar widget: the current job's name, a progress bar and a cancel button.
#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace skvq::studio {

class JobRunner;

class JobStatusWidget : public QWidget {
  Q_OBJECT
 public:
  explicit JobStatusWidget(JobRunner* runner, QWidget* parent = nullptr);
  QString text() const;
  int progressValue() const;
  bool cancelEnabled() const;

 private:
  QLabel* label_;
  QProgressBar* bar_;
  QPushButton* cancel_;
};

}  // namespace skvq::studio
