#pragma once
// Base of the Run menu's forms: labelled fields with an inline error under each (a red label,
// shown only while the field is invalid), a Start / Cancel row with a progress bar and a status
// line. A form validates all its fields before it starts anything, runs its job through the
// window's JobRunner and reports the ids of the runs it stored (runsStored).
#include <QDialog>
#include <QList>
#include <QMap>
#include <QVariant>

#include "job_runner.h"

class QFormLayout;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QVBoxLayout;

namespace skvq::studio {

class RunForm : public QDialog {
  Q_OBJECT
 public:
  /// `runner` may be null for a form that computes synchronously (the memory planner).
  RunForm(JobRunner* runner, const QString& title, QWidget* parent = nullptr);
  /// The store new runs go to; a read-only store refuses the job.
  void setStorePath(const QString& db, bool readOnly);
  /// Model file or directory field (forms that have one).
  virtual void setModelPath(const QString& path);
  /// Checks every field, showing each error under its field; true when all are valid.
  bool validate();
  /// Validates and starts the job. False (nothing started) when a field is invalid, the store is
  /// missing or read-only, or another job runs; the status line says which.
  virtual bool launch();
  /// The inline error under the field with this object name ("" when valid or hidden).
  QString fieldError(const QString& fieldName) const;
  QString statusText() const;

 Q_SIGNALS:
  /// The job finished and stored (or found) these runs, in the order of the job.
  void runsStored(const QList<qint64>& ids);

 protected:
  enum class Browse { None, File, Directory, SaveFile };
  /// A labelled line edit (object name `name`) with an optional Browse button and its error label.
  QLineEdit* addLine(const QString& label, const QString& name, const QString& text,
                     Browse browse = Browse::None, const QString& filter = {});
  /// Any other field widget, with its error label.
  void addField(const QString& label, QWidget* field);
  /// Shows (non-empty) or hides the inline error of `field`.
  void setFieldError(QWidget* field, const QString& message);
  /// Inline error unless the path exists (a directory when `dir`); an empty optional path is valid.
  bool checkPath(QLineEdit* field, bool dir = false, bool optional = false);
  /// Inline error unless every configuration (comma- or space-separated) parses and fits the
  /// model at `modelPath`; `configs` gets them, `needsCalibration` whether one reads a calibration.
  bool checkConfigs(QLineEdit* field, const QString& modelPath, std::vector<std::string>* configs,
                    bool* needsCalibration = nullptr);
  /// checkPath for an optional calibration file, required when `needed`.
  bool checkCalibration(QLineEdit* field, bool needed);
  /// Parses a comma-separated list of integers (> 0) or of percents (0..100) with an inline error.
  bool checkIntList(QLineEdit* field, std::vector<int64_t>* out);
  bool checkPercentList(QLineEdit* field, std::vector<double>* out);
  void setStatus(const QString& text, bool error = false);
  QVBoxLayout* body() const { return body_; }
  QPushButton* startButton() const { return start_; }
  QString storePath() const { return db_; }

  /// Checks the form's fields with the helpers above (all of them, not stopping at the first).
  virtual bool checkFields() = 0;
  /// The job's work (called after checkFields succeeded): returns QVariantMap {"ids": list of
  /// run ids, "log": text (optional)}.
  virtual JobRunner::Work work(const std::string& db) const = 0;
  /// Called with the job's result after runsStored (e.g. a table of task scores).
  virtual void showResult(const QVariantMap&) {}

 private:
  JobRunner* runner_;
  QString db_;
  bool readOnly_ = false;
  QFormLayout* form_;
  QVBoxLayout* body_;
  QMap<QWidget*, QLabel*> errors_;
  QLabel* status_;
  QProgressBar* bar_;
  QPushButton* start_;
  QPushButton* cancel_;
};

/// Splits a list of configurations or paths at commas, semicolons and white space.
std::vector<std::string> split_list(const QString& text);

}  // namespace skvq::studio
