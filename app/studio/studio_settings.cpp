#include "studio_settings.h"

#include <QDir>
#include <QSettings>
#include <QStandardPaths>

#include "skvq/common.h"

namespace skvq::studio {

QString StudioSettings::dataDir() const {
  return QSettings().value("dataDir", QString::fromStdString(skvq::data_dir())).toString();
}
void StudioSettings::setDataDir(const QString& dir) { QSettings().setValue("dataDir", dir); }

QString StudioSettings::databasePath() const {
  const QString base = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
  return QSettings().value("databasePath", QDir(base).filePath("runs.sqlite")).toString();
}
void StudioSettings::setDatabasePath(const QString& path) { QSettings().setValue("databasePath", path); }

int StudioSettings::threads() const { return QSettings().value("threads", 0).toInt(); }
void StudioSettings::setThreads(int threads) { QSettings().setValue("threads", threads); }

QStringList StudioSettings::recentFiles() const { return QSettings().value("recentFiles").toStringList(); }
void StudioSettings::addRecentFile(const QString& path) {
  QStringList files = recentFiles();
  files.removeAll(path);
  files.prepend(path);
  while (files.size() > 8) files.removeLast();
  QSettings().setValue("recentFiles", files);
}

}  // namespace skvq::studio
