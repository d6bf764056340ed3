#pragma once
// What the user set, persisted with QSettings: data directory, run store, threads, recent files.
#include <QString>
#include <QStringList>

namespace skvq::studio {

class StudioSettings {
 public:
  QString dataDir() const;        ///< default: skvq::data_dir()
  void setDataDir(const QString& dir);
  QString databasePath() const;   ///< default: <AppDataLocation>/runs.sqlite
  void setDatabasePath(const QString& path);
  int threads() const;            ///< 0 = all cores
  void setThreads(int threads);
  QStringList recentFiles() const;
  /// Puts `path` first in the recent files (at most 8).
  void addRecentFile(const QString& path);
};

}  // namespace skvq::studio
