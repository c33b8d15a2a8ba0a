#pragma once
// Render: how answers are shown. Tables of rows with chosen (or discovered) columns, one object as key/value lines,
// the raw answer for --json; everything goes to stdout as UTF-8.

#include "AdminClient.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>

// One column of a table: where its cells come from in each row.
struct Column {
    Column(QString header_, QString field_, int maxWidth_ = 0, QString emptyAs_ = {})
        : header(std::move(header_)), field(std::move(field_)), maxWidth(maxWidth_), emptyAs(std::move(emptyAs_))
    {
    }
    QString header;
    QString field;    // see fieldOf()
    int maxWidth;     // longer cells are cut, with "..."; 0: no limit; kTime: a time in ms, shown as ISO 8601 UTC
    QString emptyAs;  // shown for an empty cell
};
constexpr int kTime = -1;

void writeStdout(const QByteArray& bytes);
void print(const QString& text);

// The answer as --json shows it: indented when it is JSON, as received otherwise; nothing for an empty body.
void printAnswer(const Reply& reply);

// A JSON value as one table cell: integers without a fraction, arrays of scalars comma-separated, an array of
// objects as its length, objects as compact JSON, null as empty.
QString cellText(const QJsonValue& v);

// A field of a row: "a.b" is o["a"]["b"], a number indexes an array ("x_death.0.queue"), and "p|q" is p, or q
// when p is absent or empty.
QJsonValue fieldOf(const QJsonObject& o, const QString& path);

void printTable(const QJsonArray& rows, const QList<Column>& columns);

// Columns for rows of unknown shape: the keys of the rows, identifying keys first, then alphabetical, without nested
// objects; payload-like keys cut to 60 characters.
QList<Column> columnsOf(const QJsonArray& rows);

// An object as `key  value` lines (nested objects flattened with dots), then each array of objects as a titled
// table.
void printObject(const QJsonObject& object);
