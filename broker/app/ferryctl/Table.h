#pragma once
// Table: rows of text cells rendered as aligned columns, the human output of the list verbs.

#include <QString>
#include <QStringList>
#include <vector>

class Table {
public:
    // The headers are shown upper-cased.
    explicit Table(const QStringList& headers);

    // A row with fewer cells than headers is padded with empty cells; extra cells are dropped. Line breaks and tabs
    // in a cell are shown as \n and \t so that a row stays one line.
    void addRow(const QStringList& cells);

    int rowCount() const { return static_cast<int>(rows_.size()); }

    // The header line, then one line per row, each ending in '\n'. Columns are left-aligned, padded to their widest
    // cell, separated by two spaces; no trailing spaces.
    QString render() const;

private:
    QStringList headers_;
    std::vector<QStringList> rows_;
};
