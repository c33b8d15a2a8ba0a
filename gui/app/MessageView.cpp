#include "MessageView.h"

#include <QComboBox>
#include <QDateTime>
#include <QFontDatabase>
#include <QHeaderView>
#include <QJsonDocument>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

namespace ferry::console {

MessageView::MessageView(QWidget *parent)
    : QWidget(parent), fields_(new QTableWidget(0, 2, this)), mode_(new QComboBox(this)), body_(new QPlainTextEdit(this))
{
    setObjectName(QStringLiteral("messageView"));
    fields_->setObjectName(QStringLiteral("fields"));
    fields_->setHorizontalHeaderLabels({tr("Field"), tr("Value")});
    fields_->horizontalHeader()->setStretchLastSection(true);
    fields_->verticalHeader()->hide();
    fields_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    mode_->setObjectName(QStringLiteral("bodyMode"));
    mode_->addItem(tr("Text"), int(BodyMode::Text));
    mode_->addItem(tr("Hex"), int(BodyMode::Hex));
    mode_->addItem(tr("JSON"), int(BodyMode::Json));
    body_->setObjectName(QStringLiteral("body"));
    body_->setReadOnly(true);
    body_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    connect(mode_, &QComboBox::currentIndexChanged, this, [this] { showBody(); });
    auto *bodyBox = new QWidget(this);
    auto *bodyLayout = new QVBoxLayout(bodyBox);
    bodyLayout->setContentsMargins(0, 0, 0, 0);
    bodyLayout->addWidget(mode_);
    bodyLayout->addWidget(body_);
    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(fields_);
    splitter->addWidget(bodyBox);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter);
}

QString MessageView::render(const QByteArray &body, BodyMode mode)
{
    if (mode == BodyMode::Hex) {
        QString out;
        for (qsizetype at = 0; at < body.size(); at += 16) {
            const QByteArray line = body.mid(at, 16);
            QString ascii;
            for (char c : line)
                ascii += (c >= 0x20 && c < 0x7f) ? QLatin1Char(c) : QLatin1Char('.');
            out += QStringLiteral("%1  %2  %3\n")
                       .arg(at, 8, 16, QLatin1Char('0'))
                       .arg(QString::fromLatin1(line.toHex(' ')), -47)
                       .arg(ascii);
        }
        return out;
    }
    if (mode == BodyMode::Json) {
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
        if (error.error == QJsonParseError::NoError)
            return QString::fromUtf8(doc.toJson(QJsonDocument::Indented));
    }
    return QString::fromUtf8(body);
}

void MessageView::setMessage(const MessageInfo &m)
{
    QList<QPair<QString, QString>> rows{
        {tr("offset"), QString::number(m.offset)},
        {tr("id"), m.id},
        {tr("stored"), QDateTime::fromMSecsSinceEpoch(m.storeTime).toString(Qt::ISODateWithMs)},
        {tr("exchange"), m.exchange},
        {tr("routing key"), m.routingKey},
        {tr("tags"), m.tags},
        {tr("keys"), m.keys},
        {tr("persistent"), m.persistent ? tr("yes") : tr("no")},
        {tr("priority"), QString::number(m.priority)},
        {tr("published by"), m.originProtocol},
    };
    if (!m.deathReason.isEmpty())
        rows.append({tr("dead-lettered"), tr("%1 from %2 (%3 times)").arg(m.deathReason, m.deathQueue).arg(m.deathCount)});
    for (const auto &[k, v] : m.properties)
        rows.append({k, v});
    fields_->setRowCount(static_cast<int>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
        fields_->setItem(i, 0, new QTableWidgetItem(rows[i].first));
        fields_->setItem(i, 1, new QTableWidgetItem(rows[i].second));
    }
    payload_ = m.payload;
    // Pick JSON by itself when the body is JSON.
    if (!QJsonDocument::fromJson(payload_).isNull())
        mode_->setCurrentIndex(mode_->findData(int(BodyMode::Json)));
    showBody();
}

void MessageView::clear()
{
    fields_->setRowCount(0);
    payload_.clear();
    body_->clear();
}

void MessageView::setBodyMode(BodyMode mode) { mode_->setCurrentIndex(mode_->findData(int(mode))); }

QString MessageView::bodyText() const { return body_->toPlainText(); }

void MessageView::showBody() { body_->setPlainText(render(payload_, BodyMode(mode_->currentData().toInt()))); }

} // namespace ferry::console
