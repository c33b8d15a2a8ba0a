#include "Render.h"

#include "Table.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QSet>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

void writeStdout(const QByteArray& bytes)
{
    std::fwrite(bytes.constData(), 1, static_cast<size_t>(bytes.size()), stdout);
    std::fflush(stdout);
}

void print(const QString& text)
{
    writeStdout(text.toUtf8());
}

void printAnswer(const Reply& reply)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(reply.body, &error);
    if (error.error == QJsonParseError::NoError && (doc.isArray() || doc.isObject())) {
        writeStdout(doc.toJson(QJsonDocument::Indented));
        return;
    }
    if (reply.body.isEmpty())
        return;
    writeStdout(reply.body.endsWith('\n') ? reply.body : reply.body + '\n');
}

QString cellText(const QJsonValue& v)
{
    switch (v.type()) {
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        return {};
    case QJsonValue::Bool:
        return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double: {
        const double d = v.toDouble();
        if (std::trunc(d) == d && std::fabs(d) < 9.0e15)
            return QString::number(static_cast<qint64>(d));
        return QString::number(d);
    }
    case QJsonValue::String:
        return v.toString();
    case QJsonValue::Array: {
        const QJsonArray a = v.toArray();
        QStringList parts;
        for (const QJsonValue& item : a) {
            if (item.isObject() || item.isArray())
                return QString::number(a.size());
            parts << cellText(item);
        }
        return parts.join(',');
    }
    case QJsonValue::Object:
        return QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
    }
    return {};
}

QJsonValue fieldOf(const QJsonObject& o, const QString& path)
{
    for (const QString& alternative : path.split('|')) {
        QJsonValue v = o;
        for (const QString& part : alternative.split('.')) {
            bool index = false;
            const int i = part.toInt(&index);
            v = index && v.isArray() ? v.toArray().at(i) : v.toObject().value(part);
        }
        if (!v.isUndefined() && !v.isNull() && !(v.isString() && v.toString().isEmpty()))
            return v;
    }
    return QJsonValue();
}


namespace {

// Milliseconds since the epoch as ISO 8601 UTC; anything else as cellText().
QString timeText(const QJsonValue& v)
{
    if (!v.isDouble() || v.toDouble() <= 0)
        return cellText(v);
    return QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(v.toDouble()), Qt::UTC).toString(Qt::ISODateWithMs);
}

} // namespace

void printTable(const QJsonArray& rows, const QList<Column>& columns)
{
    QStringList headers;
    for (const Column& c : columns)
        headers << c.header;
    Table table(headers);
    for (const QJsonValue& row : rows) {
        QStringList cells;
        for (const Column& c : columns) {
            const QJsonValue value = fieldOf(row.toObject(), c.field);
            QString text = c.maxWidth == kTime ? timeText(value) : cellText(value);
            if (text.isEmpty())
                text = c.emptyAs;
            if (c.maxWidth > 3 && text.size() > c.maxWidth)
                text = text.left(c.maxWidth - 3) + QLatin1String("...");
            cells << text;
        }
        table.addRow(cells);
    }
    print(table.render());
}

QList<Column> columnsOf(const QJsonArray& rows)
{
    static const QStringList first = {"name", "key", "kind", "group", "topic", "queue_id", "vhost", "offset",
                                      "id", "msg_id", "routing_key", "exchange", "tags", "keys"};
    QSet<QString> seen;
    for (const QJsonValue& row : rows) {
        const QJsonObject o = row.toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            if (!it.value().isObject())
                seen.insert(it.key());
    }
    QStringList keys;
    for (const QString& k : first)
        if (seen.remove(k))
            keys << k;
    QStringList rest(seen.begin(), seen.end());
    rest.sort();
    keys << rest;
    QList<Column> columns;
    for (const QString& k : keys) {
        const bool long_ = k == QLatin1String("payload") || k == QLatin1String("body");
        columns << Column(k, k, long_ ? 60 : 0);
    }
    return columns;
}

void printObject(const QJsonObject& object)
{
    struct Section {
        QString title;
        QJsonArray rows;
    };
    QList<QPair<QString, QString>> scalars;
    QList<Section> sections;
    std::function<void(const QJsonObject&, const QString&)> walk = [&](const QJsonObject& o, const QString& prefix) {
        for (auto it = o.begin(); it != o.end(); ++it) {
            const QString key = prefix + it.key();
            const QJsonValue v = it.value();
            if (v.isObject() && !v.toObject().isEmpty()) {
                walk(v.toObject(), key + '.');
            } else if (v.isArray() && !v.toArray().isEmpty() && v.toArray().first().isObject()) {
                sections << Section{key, v.toArray()};
            } else if (v.isArray() && v.toArray().isEmpty()) {
                scalars << qMakePair(key, QStringLiteral("(none)"));
            } else {
                scalars << qMakePair(key, cellText(v));
            }
        }
    };
    walk(object, {});
    qsizetype width = 0;
    for (const auto& s : scalars)
        width = std::max(width, s.first.size());
    QString out;
    for (const auto& s : scalars)
        out += (s.first.leftJustified(width) + QLatin1String("  ") + s.second).trimmed() + '\n';
    print(out);
    for (const Section& s : sections) {
        print(QStringLiteral("\n%1:\n").arg(s.title));
        printTable(s.rows, columnsOf(s.rows));
    }
}
