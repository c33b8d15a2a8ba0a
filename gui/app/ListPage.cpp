#include "ListPage.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

namespace ferry::console {

ListPage::ListPage(QAbstractItemModel *model, const QString &objectName, QWidget *parent)
    : QWidget(parent), proxy_(new QSortFilterProxyModel(this)), view_(new QTableView(this)),
      filter_(new QLineEdit(this)), actions_(new QHBoxLayout)
{
    setObjectName(objectName);
    proxy_->setSourceModel(model);
    proxy_->setSortRole(Qt::UserRole);
    proxy_->setSortCaseSensitivity(Qt::CaseInsensitive);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    proxy_->setFilterKeyColumn(-1); // every column
    filter_->setObjectName(QStringLiteral("filter"));
    filter_->setPlaceholderText(tr("Filter"));
    filter_->setClearButtonEnabled(true);
    connect(filter_, &QLineEdit::textChanged, proxy_, &QSortFilterProxyModel::setFilterFixedString);
    view_->setObjectName(QStringLiteral("table"));
    view_->setModel(proxy_);
    view_->setSortingEnabled(true);
    view_->sortByColumn(0, Qt::AscendingOrder); // until the user picks another (remembered by MainWindow)
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::SingleSelection);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->verticalHeader()->hide();
    connect(view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                emit currentSourceRowChanged(current.isValid() ? proxy_->mapToSource(current).row() : -1);
            });
    auto *top = new QHBoxLayout;
    top->addWidget(filter_, 1);
    top->addLayout(actions_);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(view_);
}

QPushButton *ListPage::addAction(const QString &text, const QString &objectName)
{
    auto *button = new QPushButton(text, this);
    button->setObjectName(objectName);
    actions_->addWidget(button);
    return button;
}

int ListPage::currentSourceRow() const
{
    const QModelIndex current = view_->currentIndex();
    return current.isValid() ? proxy_->mapToSource(current).row() : -1;
}

QList<int> ListPage::selectedSourceRows() const
{
    QList<int> rows;
    for (const QModelIndex &index : view_->selectionModel()->selectedRows())
        rows << proxy_->mapToSource(index).row();
    std::sort(rows.begin(), rows.end());
    return rows;
}

QList<int> ListPage::visibleSourceRows() const
{
    QList<int> rows;
    for (int row = 0; row < proxy_->rowCount(); ++row)
        rows << proxy_->mapToSource(proxy_->index(row, 0)).row();
    std::sort(rows.begin(), rows.end());
    return rows;
}

} // namespace ferry::console
