#include "Table.h"

#include <algorithm>

Table::Table(const QStringList& headers)
{
    for (const QString& h : headers)
        headers_ << h.toUpper();
}

void Table::addRow(const QStringList& cells)
{
    QStringList row;
    for (int i = 0; i < headers_.size(); ++i) {
        QString cell = i < cells.size() ? cells.at(i) : QString();
        cell.replace('\n', QLatin1String("\\n")).replace('\r', QLatin1String("\\r"))
            .replace('\t', QLatin1String("\\t"));
        row << cell;
    }
    rows_.push_back(row);
}

QString Table::render() const
{
    std::vector<qsizetype> widths;
    for (const QString& h : headers_)
        widths.push_back(h.size());
    for (const QStringList& row : rows_)
        for (int i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], row.at(i).size());

    auto line = [&](const QStringList& cells) {
        QString out;
        for (int i = 0; i < cells.size(); ++i) {
            if (i > 0)
                out += QLatin1String("  ");
            out += i + 1 < cells.size() ? cells.at(i).leftJustified(widths[i]) : cells.at(i);
        }
        while (out.endsWith(' '))
            out.chop(1);
        return out + '\n';
    };
    QString out = line(headers_);
    for (const QStringList& row : rows_)
        out += line(row);
    return out;
}
