// MessagesPage: the message browser. Pick a queue or a topic queue, browse it page by page without consuming (all of
// it, or the messages stored in a time range), find a message by id or key, see one message (MessageView), and
// publish a test message to a queue.
#pragma once

#include "AdminTypes.h"

#include <QWidget>

#include <optional>

class QComboBox;
class QDateTime;
class QDateTimeEdit;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableView;

namespace ferry::console {

class AdminClient;
class ListPage;
class MessageTableModel;
class MessageView;

class MessagesPage : public QWidget {
    Q_OBJECT
public:
    MessagesPage(AdminClient *client, QWidget *parent = nullptr);

    // The sources offered: every queue, then every queue of every topic (kept when the lists refresh).
    void setQueues(const QList<QueueInfo> &queues);
    void setTopics(const QList<TopicInfo> &topics);
    // Selects the source described by `label` (as the combo shows it); false when there is none.
    bool selectSource(const QString &label);
    void browseFromStart();
    // The first page of the messages stored from `begin` to `end`; nextPage stays in the range.
    void browseTimeRange(const QDateTime &begin, const QDateTime &end);
    void nextPage();
    void find(const QString &idOrKey);
    void publishToSelectedQueue(const QByteArray &payload);
    MessageTableModel *model() const { return model_; }
    MessageView *messageView() const { return view_; }

private:
    void rebuildSources();
    std::optional<MessageSource> currentSource() const;
    void showPage(const MessagePage &page);

    AdminClient *client_;
    QList<QueueInfo> queues_;
    QList<TopicInfo> topics_;
    QList<MessageSource> sources_;
    QComboBox *source_;
    QSpinBox *count_;
    QLineEdit *search_;
    QLineEdit *payload_;
    QDateTimeEdit *rangeBegin_, *rangeEnd_;
    MessageTableModel *model_;
    ListPage *list_;
    MessageView *view_;
    qint64 nextOffset_ = -1;
    std::optional<std::pair<qint64, qint64>> range_; // the store-time range (ms) being browsed, if any
};

} // namespace ferry::console
