// ListPage: one list of the console: a filter box over a sortable table view of a RecordTableModel (through a
// QSortFilterProxyModel sorting on Qt::UserRole, case-insensitive, first column ascending until the user picks
// another), and a row of action buttons the screen adds. Every list of every screen is one, so each filters and
// sorts the same way. Rows the page reports are rows of the source model (the RecordTableModel), never of the view.
#pragma once

#include <QList>
#include <QWidget>

class QAbstractItemModel;
class QHBoxLayout;
class QLineEdit;
class QModelIndex;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace ferry::console {

class ListPage : public QWidget {
    Q_OBJECT
public:
    // model: not owned; outlives the page.
    ListPage(QAbstractItemModel *model, const QString &objectName, QWidget *parent = nullptr);

    QPushButton *addAction(const QString &text, const QString &objectName);
    QTableView *view() const { return view_; }
    QLineEdit *filter() const { return filter_; }
    // The source-model row of the current row, or -1.
    int currentSourceRow() const;
    // The source-model rows selected, ascending.
    QList<int> selectedSourceRows() const;
    // The source-model rows the filter lets through, ascending.
    QList<int> visibleSourceRows() const;

signals:
    // The current row changed to source-model row `row` (-1: none).
    void currentSourceRowChanged(int row);

private:
    QSortFilterProxyModel *proxy_;
    QTableView *view_;
    QLineEdit *filter_;
    QHBoxLayout *actions_;
};

} // namespace ferry::console
