#include "MessagesPage.h"

#include "AdminClient.h"
#include "AdminTableModels.h"
#include "ListPage.h"
#include "MessageView.h"

#include <QComboBox>
#include <QDateTimeEdit>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace ferry::console {

MessagesPage::MessagesPage(AdminClient *client, QWidget *parent)
    : QWidget(parent), client_(client), source_(new QComboBox(this)), count_(new QSpinBox(this)),
      search_(new QLineEdit(this)), payload_(new QLineEdit(this)),
      rangeBegin_(new QDateTimeEdit(QDateTime::currentDateTime().addSecs(-3600), this)),
      rangeEnd_(new QDateTimeEdit(QDateTime::currentDateTime().addSecs(3600), this)),
      model_(new MessageTableModel(this)), list_(new ListPage(model_, QStringLiteral("messages"), this)),
      view_(new MessageView(this))
{
    setObjectName(QStringLiteral("messagesPage"));
    source_->setObjectName(QStringLiteral("source"));
    source_->setMinimumContentsLength(30);
    count_->setObjectName(QStringLiteral("count"));
    count_->setRange(1, 1000);
    count_->setValue(50);
    search_->setObjectName(QStringLiteral("search"));
    search_->setPlaceholderText(tr("Message id or key"));
    payload_->setObjectName(QStringLiteral("payload"));
    payload_->setPlaceholderText(tr("Body of a test message"));
    for (QDateTimeEdit *edit : {rangeBegin_, rangeEnd_}) {
        edit->setCalendarPopup(true);
        edit->setDisplayFormat(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    }
    rangeBegin_->setObjectName(QStringLiteral("rangeBegin"));
    rangeEnd_->setObjectName(QStringLiteral("rangeEnd"));
    auto *inRange = new QPushButton(tr("Stored in &range"), this);
    inRange->setObjectName(QStringLiteral("browseRange"));
    connect(inRange, &QPushButton::clicked, this,
            [this] { browseTimeRange(rangeBegin_->dateTime(), rangeEnd_->dateTime()); });
    auto *browse = new QPushButton(tr("&Browse"), this);
    browse->setObjectName(QStringLiteral("browse"));
    auto *next = new QPushButton(tr("&Next page"), this);
    next->setObjectName(QStringLiteral("nextPage"));
    auto *findButton = new QPushButton(tr("&Find"), this);
    findButton->setObjectName(QStringLiteral("find"));
    auto *publish = new QPushButton(tr("&Publish"), this);
    publish->setObjectName(QStringLiteral("publish"));
    connect(browse, &QPushButton::clicked, this, &MessagesPage::browseFromStart);
    connect(next, &QPushButton::clicked, this, &MessagesPage::nextPage);
    connect(findButton, &QPushButton::clicked, this, [this] { find(search_->text().trimmed()); });
    connect(search_, &QLineEdit::returnPressed, this, [this] { find(search_->text().trimmed()); });
    connect(publish, &QPushButton::clicked, this, [this] { publishToSelectedQueue(payload_->text().toUtf8()); });

    connect(list_, &ListPage::currentSourceRowChanged, this, [this](int row) {
        if (row >= 0)
            view_->setMessage(model_->record(row));
        else
            view_->clear();
    });

    connect(client_, &AdminClient::pageReceived, this, &MessagesPage::showPage);
    connect(client_, &AdminClient::messageFound, this, [this](const MessageInfo &m) {
        model_->setRecords({m});
        list_->view()->selectRow(0);
        view_->setMessage(m);
    });

    auto *controls = new QHBoxLayout;
    auto *fromLabel = new QLabel(tr("&From"), this);
    fromLabel->setBuddy(source_);
    controls->addWidget(fromLabel);
    controls->addWidget(source_, 1);
    controls->addWidget(count_);
    controls->addWidget(browse);
    controls->addWidget(next);
    controls->addSpacing(12);
    controls->addWidget(search_, 1);
    controls->addWidget(findButton);
    auto *rangeRow = new QHBoxLayout;
    auto *rangeLabel = new QLabel(tr("Stored &between"), this);
    rangeLabel->setBuddy(rangeBegin_);
    rangeRow->addWidget(rangeLabel);
    rangeRow->addWidget(rangeBegin_);
    rangeRow->addWidget(new QLabel(tr("and"), this));
    rangeRow->addWidget(rangeEnd_);
    rangeRow->addWidget(inRange);
    rangeRow->addStretch(1);
    auto *publishRow = new QHBoxLayout;
    publishRow->addWidget(payload_, 1);
    publishRow->addWidget(publish);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(list_);
    splitter->addWidget(view_);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addLayout(rangeRow);
    layout->addWidget(splitter, 1);
    layout->addLayout(publishRow);
}

void MessagesPage::setQueues(const QList<QueueInfo> &queues)
{
    queues_ = queues;
    rebuildSources();
}

void MessagesPage::setTopics(const QList<TopicInfo> &topics)
{
    topics_ = topics;
    rebuildSources();
}

void MessagesPage::rebuildSources()
{
    QList<MessageSource> sources;
    for (const QueueInfo &q : queues_)
        sources.append({MessageSource::Kind::Queue, q.vhost, q.name, 0});
    for (const TopicInfo &t : topics_)
        for (int i = 0; i < std::max(t.readQueues, t.writeQueues); ++i)
            sources.append({MessageSource::Kind::TopicQueue, QStringLiteral("/"), t.name, i});
    QStringList labels;
    for (const MessageSource &s : sources)
        labels << s.describe();
    QStringList current;
    for (int i = 0; i < source_->count(); ++i)
        current << source_->itemText(i);
    if (labels == current)
        return; // unchanged: keep the selection
    const QString selected = source_->currentText();
    sources_ = sources;
    source_->clear();
    source_->addItems(labels);
    source_->setCurrentIndex(std::max(0, static_cast<int>(labels.indexOf(selected))));
}

bool MessagesPage::selectSource(const QString &label)
{
    const int index = source_->findText(label);
    if (index < 0)
        return false;
    source_->setCurrentIndex(index);
    return true;
}

std::optional<MessageSource> MessagesPage::currentSource() const
{
    const int index = source_->currentIndex();
    if (index < 0 || index >= sources_.size())
        return std::nullopt;
    return sources_[index];
}

void MessagesPage::browseFromStart()
{
    range_.reset();
    if (const auto s = currentSource())
        client_->browse(*s, -1, count_->value());
}

void MessagesPage::browseTimeRange(const QDateTime &begin, const QDateTime &end)
{
    range_ = std::make_pair(begin.toMSecsSinceEpoch(), end.toMSecsSinceEpoch());
    if (const auto s = currentSource())
        client_->browseTimeRange(*s, range_->first, range_->second, count_->value());
}

void MessagesPage::nextPage()
{
    const auto s = currentSource();
    if (!s || nextOffset_ < 0)
        return;
    if (range_)
        client_->browseTimeRange(*s, range_->first, range_->second, count_->value(), nextOffset_);
    else
        client_->browse(*s, nextOffset_, count_->value());
}

void MessagesPage::find(const QString &idOrKey)
{
    if (!idOrKey.isEmpty())
        client_->findMessage(idOrKey);
}

void MessagesPage::publishToSelectedQueue(const QByteArray &payload)
{
    const auto s = currentSource();
    if (!s || s->kind != MessageSource::Kind::Queue)
        return; // topics take messages from producers; the API's topic publish is for administrators (ferryctl)
    client_->publish(s->vhost, QString(), s->name, payload);
}

void MessagesPage::showPage(const MessagePage &page)
{
    if (page.source.kind == MessageSource::Kind::AmqpDeadLetters || page.source.kind == MessageSource::Kind::RocketDeadLetters)
        return; // the dead-letter screen's
    nextOffset_ = page.nextOffset;
    model_->setRecords(page.messages);
    if (!page.messages.isEmpty())
        list_->view()->selectRow(0);
    else
        view_->clear();
}

} // namespace ferry::console
