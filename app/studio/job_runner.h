#pragma once
// Runs one long engine job at a time on a worker thread (QtConcurrent), with progress and a
// cancel flag the engine polls (skvq::CancelFlag).
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QVariant>
#include <atomic>
#include <functional>

#include "skvq/common.h"

namespace skvq::studio {

class JobRunner : public QObject {
  Q_OBJECT
 public:
  /// The work: gets a progress callback (callable from the worker thread) and the cancel
  /// flag; returns a result or throws (skvq::Cancelled when cancelled).
  using Work = std::function<QVariant(ProgressFn, CancelFlag)>;

  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;
  /// Starts `work` unless a job is running (returns false then).
  bool start(const QString& name, Work work);
  bool isBusy() const { return busy_; }
  QString currentJob() const { return name_; }
  /// Blocks until the current job ends (tests, shutdown).
  void wait();

 public Q_SLOTS:
  void cancel();

 Q_SIGNALS:
  void started(const QString& name);
  void progress(qint64 done, qint64 total);
  void finished(const QString& name, const QVariant& result);
  void failed(const QString& name, const QString& message);
  void cancelled(const QString& name);
  /// After finished, failed or cancelled.
  void idle();

 private:
  struct Outcome {
    QVariant result;
    QString error;
    bool cancelled = false;
  };
  void onDone();
  QFutureWatcher<Outcome> watcher_;
  std::atomic<bool> cancel_{false};
  bool busy_ = false;
  QString name_;
};

}  // namespace skvq::studio
