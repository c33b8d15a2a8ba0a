// ListPage: one list screen: a filter box over a sortable table view of a RecordTableModel (through a
// QSortFilterProxyModel sorting on Qt::UserRole), and a row of action buttons the screen adds.
#pragma once

#include <QWidget>

class QAbstractItemModel;
class QHBoxLayout;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace ferry::console {

// A table view the screens share: rows selected whole, no row numbers, last column stretched.
QTableView *makeTableView(QAbstractItemModel *model, const QString &objectName, QWidget *parent);

class ListPage : public QWidget {
    Q_OBJECT
public:
    ListPage(QAbstractItemModel *model, const QString &objectName, QWidget *parent = nullptr);

    QPushButton *addAction(const QString &text, const QString &objectName);
    QTableView *view() const { return view_; }
    // The source-model row of the current selection, or -1.
    int currentSourceRow() const;

private:
    QSortFilterProxyModel *proxy_;
    QTableView *view_;
    QLineEdit *filter_;
    QHBoxLayout *actions_;
};

} // namespace ferry::console
