// RecordTableModel: a table of records of one type (AdminTypes.h) fed by AdminClient's signals. setRecords() takes
// the latest list and changes the model incrementally, matching rows by T::key(): changed rows emit dataChanged,
// new ones are inserted, gone ones removed, so views keep their selection and scroll position across refreshes.
// Columns are declared once per record type (QueueTableModel.h and its siblings).
//
// Roles: Qt::DisplayRole the text, Qt::UserRole the raw value (numbers as numbers, for QSortFilterProxyModel),
// Qt::TextAlignmentRole right-aligned numbers, Qt::ToolTipRole the column's description.
// Threading: the GUI thread.
#pragma once

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QString>
#include <QVariant>

#include <functional>
#include <vector>

namespace ferry::console {

template <typename T>
class RecordTableModel : public QAbstractTableModel {
public:
    struct Column {
        QString header;
        QString description;
        std::function<QVariant(const T &)> value; // raw; numbers are right-aligned and shown as is
    };

    explicit RecordTableModel(std::vector<Column> columns, QObject *parent = nullptr)
        : QAbstractTableModel(parent), columns_(std::move(columns))
    {
    }

    int rowCount(const QModelIndex &parent = QModelIndex()) const override
    {
        return parent.isValid() ? 0 : static_cast<int>(rows_.size());
    }
    int columnCount(const QModelIndex &parent = QModelIndex()) const override
    {
        return parent.isValid() ? 0 : static_cast<int>(columns_.size());
    }

    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override
    {
        if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
            return {};
        const Column &column = columns_[static_cast<size_t>(index.column())];
        const QVariant value = column.value(rows_[index.row()]);
        const bool number = value.typeId() == QMetaType::LongLong || value.typeId() == QMetaType::Int ||
                            value.typeId() == QMetaType::Double;
        switch (role) {
        case Qt::DisplayRole:
            if (value.typeId() == QMetaType::Double)
                return QString::number(value.toDouble(), 'f', 1);
            if (value.typeId() == QMetaType::Bool)
                return value.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
            return value.toString();
        case Qt::UserRole:
            return value;
        case Qt::TextAlignmentRole:
            return number ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
        case Qt::ToolTipRole:
            return column.description;
        default:
            return {};
        }
    }

    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override
    {
        if (orientation != Qt::Horizontal || section < 0 || section >= columnCount())
            return {};
        if (role == Qt::DisplayRole)
            return columns_[static_cast<size_t>(section)].header;
        if (role == Qt::ToolTipRole)
            return columns_[static_cast<size_t>(section)].description;
        return {};
    }

    // The record of a row (for the widgets' actions); rows are 0..rowCount()-1.
    const T &record(int row) const { return rows_[row]; }

    // Replaces the records by `records`, changing only what changed (see the file comment).
    void setRecords(const QList<T> &records)
    {
        QHash<QString, int> wanted;
        for (int i = 0; i < records.size(); ++i)
            wanted.insert(records[i].key(), i);
        // Remove the rows that are gone, from the bottom up.
        for (int row = static_cast<int>(rows_.size()) - 1; row >= 0; --row) {
            if (wanted.contains(rows_[row].key()))
                continue;
            beginRemoveRows(QModelIndex(), row, row);
            rows_.removeAt(row);
            endRemoveRows();
        }
        QHash<QString, int> present;
        for (int row = 0; row < rows_.size(); ++row)
            present.insert(rows_[row].key(), row);
        // Update the rows that stay, append the new ones (in the order the API listed them).
        for (const T &record : records) {
            const auto it = present.constFind(record.key());
            if (it != present.constEnd()) {
                rows_[*it] = record;
                emit dataChanged(index(*it, 0), index(*it, columnCount() - 1));
                continue;
            }
            const int row = static_cast<int>(rows_.size());
            beginInsertRows(QModelIndex(), row, row);
            rows_.append(record);
            endInsertRows();
        }
    }

private:
    std::vector<Column> columns_;
    QList<T> rows_;
};

} // namespace ferry::console
