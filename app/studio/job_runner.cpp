#include "job_runner.h"

#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrent>

#include "skvq/error.h"

namespace skvq::studio {

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
  connect(&watcher_, &QFutureWatcher<Outcome>::finished, this, &JobRunner::onDone);
}

JobRunner::~JobRunner() {
  cancel();
  watcher_.waitForFinished();
}

bool JobRunner::start(const QString& name, Work work) {
  if (busy_) return false;
  busy_ = true;
  name_ = name;
  cancel_ = false;
  Q_EMIT started(name);
  QPointer<JobRunner> self(this);
  ProgressFn report = [self](int64_t done, int64_t total) {
    if (!self) return;
    QMetaObject::invokeMethod(self, [self, done, total] {
      if (self) Q_EMIT self->progress(done, total);
    }, Qt::QueuedConnection);
  };
  const std::atomic<bool>* flag = &cancel_;
  watcher_.setFuture(QtConcurrent::run([work = std::move(work), report, flag]() {
    Outcome out;
    try {
      out.result = work(report, flag);
    } catch (const skvq::Cancelled&) {
      out.cancelled = true;
    } catch (const std::exception& e) {
      out.error = QString::fromStdString(e.what());
    }
    return out;
  }));
  return true;
}

void JobRunner::wait() { watcher_.waitForFinished(); }

void JobRunner::cancel() { cancel_ = true; }

void JobRunner::onDone() {
  const Outcome out = watcher_.result();
  const QString name = name_;
  busy_ = false;
  name_.clear();
  if (out.cancelled) Q_EMIT cancelled(name);
  else if (!out.error.isEmpty()) Q_EMIT failed(name, out.error);
  else Q_EMIT finished(name, out.result);
  Q_EMIT idle();
}

}  // namespace skvq::studio
