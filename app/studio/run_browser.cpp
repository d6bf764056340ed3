#include "run_browser.h"

#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QGuiApplication>
#include <QClipboard>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QShortcut>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <set>

#include "run_details.h"
#include "runs_filter_proxy.h"
#include "runs_table_model.h"

namespace skvq::studio {

RunBrowser::RunBrowser(QWidget* parent) : QWidget(parent) {
  models_ = new QTreeWidget(this);
  models_->setObjectName("modelTree");
  models_->setHeaderLabels({tr("Model / calibration"), tr("Details")});
  kind_ = new QComboBox(this);
  kind_->setObjectName("kindFilter");
  kind_->addItem(tr("all kinds"), QString());
  for (const char* k : {"ppl", "needle", "longbench", "analyze", "generate"}) kind_->addItem(k, QString(k));
  model_ = new QComboBox(this);
  model_->setObjectName("modelFilter");
  text_ = new QLineEdit(this);
  text_->setObjectName("configFilter");
  text_->setPlaceholderText(tr("configuration contains..."));
  text_->setClearButtonEnabled(true);
  runsModel_ = new gui::RunsTableModel(this);
  proxy_ = new gui::RunsFilterProxy(this);
  proxy_->setSourceModel(runsModel_);
  table_ = new QTableView(this);
  table_->setObjectName("runsTable");
  table_->setModel(proxy_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(gui::RunsTableModel::Id, Qt::DescendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->horizontalHeader()->setSectionResizeMode(gui::RunsTableModel::Config, QHeaderView::Stretch);
  table_->verticalHeader()->hide();

  auto* filters = new QHBoxLayout;
  filters->addWidget(new QLabel(tr("Kind:"), this));
  filters->addWidget(kind_);
  filters->addWidget(new QLabel(tr("Model:"), this));
  filters->addWidget(model_);
  filters->addWidget(text_, 1);
  auto* buttons = new QHBoxLayout;
  auto button = [&](const QString& text, const QString& name, auto slot) {
    auto* b = new QPushButton(text, this);
    b->setObjectName(name);
    connect(b, &QPushButton::clicked, this, slot);
    buttons->addWidget(b);
  };
  button(tr("Open"), "open", [this] { openSelected(); });
  button(tr("Compare two"), "compare", [this] { compareSelected(); });
  button(tr("Delete"), "delete", [this] { deleteSelected(true); });
  button(tr("Export CSV..."), "exportCsv", [this] { exportDialog(false); });
  button(tr("Export JSON..."), "exportJson", [this] { exportDialog(true); });
  buttons->addStretch(1);

  details_ = new RunDetails(this);
  details_->setMinimumHeight(30);
  table_->setMinimumHeight(60);  // the splitter, not the pane's size hint, decides (1280x720 screens)
  auto* tableAndDetails = new QSplitter(Qt::Vertical, this);
  tableAndDetails->addWidget(table_);
  tableAndDetails->addWidget(details_);
  tableAndDetails->setStretchFactor(0, 3);
  tableAndDetails->setStretchFactor(1, 1);
  auto* right = new QWidget(this);
  auto* rl = new QVBoxLayout(right);
  rl->setContentsMargins(0, 0, 0, 0);
  rl->addLayout(filters);
  rl->addWidget(tableAndDetails, 1);
  rl->addLayout(buttons);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(models_);
  split->addWidget(right);
  split->setStretchFactor(1, 3);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addWidget(split);

  connect(kind_, &QComboBox::currentIndexChanged, this, [this] { proxy_->setKind(kind_->currentData().toString()); });
  connect(model_, &QComboBox::currentIndexChanged, this, [this] { proxy_->setModelName(model_->currentData().toString()); });
  connect(text_, &QLineEdit::textChanged, proxy_, &gui::RunsFilterProxy::setConfigText);
  connect(table_, &QTableView::doubleClicked, this, [this] { openSelected(); });
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] { updateActions(); });
  auto* del = new QShortcut(QKeySequence::Delete, table_, nullptr, nullptr, Qt::WidgetWithChildrenShortcut);
  connect(del, &QShortcut::activated, this, [this] { deleteSelected(true); });
  for (auto key : {Qt::Key_Return, Qt::Key_Enter}) {
    auto* open = new QShortcut(QKeySequence(key), table_, nullptr, nullptr, Qt::WidgetWithChildrenShortcut);
    connect(open, &QShortcut::activated, this, [this] { openSelected(); });
  }
  connect(proxy_, &QAbstractItemModel::modelReset, this, [this] { updateActions(); });
  connect(proxy_, &QAbstractItemModel::layoutChanged, this, [this] { updateActions(); });
  connect(proxy_, &QAbstractItemModel::rowsInserted, this, [this] { updateActions(); });
  connect(proxy_, &QAbstractItemModel::rowsRemoved, this, [this] { updateActions(); });
  buildContextMenu();
  updateActions();
  connect(models_, &QTreeWidget::itemDoubleClicked, this, [this](QTreeWidgetItem* item) {
    const QString path = item->data(0, Qt::UserRole).toString();
    if (!path.isEmpty()) Q_EMIT calibrationActivated(path);
  });
}

QPushButton* RunBrowser::button(const QString& name) const { return findChild<QPushButton*>(name); }

void RunBrowser::buildContextMenu() {
  table_->setContextMenuPolicy(Qt::CustomContextMenu);
  connect(table_, &QWidget::customContextMenuRequested, this, [this](const QPoint& at) {
    QMenu menu(this);
    for (const char* name : {"open", "compare", "delete"}) {
      QPushButton* b = button(QString::fromLatin1(name));
      QAction* a = menu.addAction(b->text(), b, &QPushButton::click);
      a->setEnabled(b->isEnabled());
    }
    const auto runs = selectedRuns(false);
    QAction* copy = menu.addAction(tr("Copy configuration"), this, [runs] {
      QStringList configs;
      for (const RunRecord& r : runs) configs << QString::fromStdString(r.config);
      QGuiApplication::clipboard()->setText(configs.join(QLatin1Char('\n')));
    });
    copy->setEnabled(!runs.empty());
    menu.addSeparator();
    menu.addAction(tr("Export CSV..."), this, [this] { exportDialog(false); });
    menu.addAction(tr("Export JSON..."), this, [this] { exportDialog(true); });
    menu.exec(table_->viewport()->mapToGlobal(at));
  });
}

void RunBrowser::updateActions() {
  const auto runs = selectedRuns(false);
  const bool readOnly = store_ && store_->read_only();
  auto set = [this](const char* name, bool enabled, const QString& why) {
    QPushButton* b = button(QString::fromLatin1(name));
    b->setEnabled(enabled);
    b->setToolTip(enabled ? QString() : why);
  };
  set("open", runs.size() == 1, tr("Select one run to open it in its view."));
  const bool pair = runs.size() == 2 && runs[0].kind == runs[1].kind;
  set("compare", pair, tr("Select two runs of the same kind (Ctrl+click) to compare them side by side."));
  set("delete", !runs.empty() && !readOnly,
      readOnly ? tr("The run store is open read-only.") : tr("Select the runs to delete."));
  const bool any = visibleRows() > 0;
  set("exportCsv", any, tr("No runs to export."));
  set("exportJson", any, tr("No runs to export."));
  const QString model = runs.size() == 1 ? runsModel_->modelName(runs[0].model_id) : QString();
  details_->showRun(runs.size() == 1 ? &runs[0] : nullptr, model);
}

void RunBrowser::setStore(RunStore* store) {
  store_ = store;
  refresh();
}

void RunBrowser::refresh() {
  models_->clear();
  QHash<qint64, QString> names;
  std::vector<RunRecord> runs;
  if (store_) try {
    for (const ModelRecord& m : store_->list_models()) {
      names[m.id] = QString::fromStdString(m.name);
      auto* top = new QTreeWidgetItem(models_, {QString::fromStdString(m.name), QString::fromStdString(m.path)});
      top->setToolTip(1, QString::fromStdString(m.config.dump(2)));
      for (const CalibrationRecord& c : store_->list_calibrations(m.id)) {
        QStringList gs;
        for (int64_t g : c.group_sizes) gs << QString::number(g);
        auto* child = new QTreeWidgetItem(top, {QStringLiteral("calibration %1").arg(c.id),
            tr("%1 x %2 tokens, g %3, seed %4").arg(c.samples).arg(c.seq_len).arg(gs.join(',')).arg(c.seed)});
        child->setData(0, Qt::UserRole, QString::fromStdString(c.path));
        child->setToolTip(0, QString::fromStdString(c.path));
      }
    }
    runs = store_->list_runs();
  } catch (const std::exception& e) {
    // A corrupt or vanished store: say so and show what could be read.
    runs.clear();
    Q_EMIT errorOccurred(tr("Run store"), QString::fromStdString(e.what()));
  }
  models_->expandAll();
  models_->resizeColumnToContents(0);
  const QString currentModel = model_->currentData().toString();
  {
    QSignalBlocker block(model_);
    model_->clear();
    model_->addItem(tr("all models"), QString());
    std::set<QString> unique(names.begin(), names.end());
    for (const QString& n : unique) model_->addItem(n, n);
    model_->setCurrentIndex(std::max(0, model_->findData(currentModel)));
  }
  runsModel_->setRuns(std::move(runs), names);
  proxy_->setModelName(model_->currentData().toString());
  table_->resizeColumnsToContents();
  updateActions();
}

int RunBrowser::visibleRows() const { return proxy_->rowCount(); }

bool RunBrowser::selectRun(qint64 id) {
  for (int pass = 0; pass < 2; ++pass) {
    for (int r = 0; r < proxy_->rowCount(); ++r) {
      const QModelIndex i = proxy_->index(r, 0);
      if (runsModel_->run(proxy_->mapToSource(i).row()).id != id) continue;
      table_->selectRow(r);
      table_->scrollTo(i);
      return true;
    }
    setKindFilter(QString());
    model_->setCurrentIndex(0);
    setConfigFilter(QString());
  }
  return false;
}

void RunBrowser::setKindFilter(const QString& kind) { kind_->setCurrentIndex(std::max(0, kind_->findData(kind))); }
void RunBrowser::setConfigFilter(const QString& text) { text_->setText(text); }

std::vector<RunRecord> RunBrowser::selectedRuns(bool allWhenNone) const {
  std::vector<RunRecord> out;
  QModelIndexList rows = table_->selectionModel()->selectedRows();
  if (rows.isEmpty() && allWhenNone)
    for (int r = 0; r < proxy_->rowCount(); ++r) rows << proxy_->index(r, 0);
  for (const QModelIndex& i : rows) out.push_back(runsModel_->run(proxy_->mapToSource(i).row()));
  return out;
}

void RunBrowser::openSelected() {
  const auto runs = selectedRuns(false);
  if (runs.empty()) return;
  Q_EMIT openRun(runs.front());
}

void RunBrowser::compareSelected() {
  const auto runs = selectedRuns(false);
  if (runs.size() != 2 || runs[0].kind != runs[1].kind) {
    Q_EMIT errorOccurred(tr("Compare runs"), tr("Select two runs of the same kind to compare."));
    return;
  }
  Q_EMIT compareRuns(runs[0], runs[1]);
}

void RunBrowser::deleteSelected(bool confirm) {
  const auto runs = selectedRuns(false);
  if (runs.empty() || !store_) return;
  if (confirm && QMessageBox::question(this, tr("Delete runs"),
                                       tr("Delete %1 run(s) and their items from %2?")
                                           .arg(runs.size()).arg(QString::fromStdString(store_->path())))
                     != QMessageBox::Yes)
    return;
  try {
    for (const RunRecord& r : runs) store_->delete_run(r.id);
  } catch (const std::exception& e) {
    Q_EMIT errorOccurred(tr("Delete runs"), QString::fromStdString(e.what()));
  }
  refresh();
  Q_EMIT storeChanged();
}

bool RunBrowser::exportTo(const QString& path, bool json) {
  if (!store_) return false;
  const auto runs = selectedRuns(true);
  std::string text;
  try {
    text = json ? store_->export_json(runs, /*with_items=*/true).dump(2) : store_->export_csv(runs);
  } catch (const std::exception& e) {
    Q_EMIT errorOccurred(tr("Export"), QString::fromStdString(e.what()));
    return false;
  }
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
      f.write(text.data(), static_cast<qint64>(text.size())) != static_cast<qint64>(text.size())) {
    Q_EMIT errorOccurred(tr("Export"), tr("%1: cannot write: %2").arg(path, f.errorString()));
    return false;
  }
  return true;
}

void RunBrowser::exportDialog(bool json) {
  const QString path = QFileDialog::getSaveFileName(
      this, json ? tr("Export runs as JSON") : tr("Export runs as CSV"),
      json ? QStringLiteral("runs.json") : QStringLiteral("runs.csv"),
      json ? tr("JSON (*.json)") : tr("CSV (*.csv)"));
  if (!path.isEmpty()) exportTo(path, json);
}

}  // namespace skvq::studio
