// AdminClient: ferry-console's client of one broker's admin API (docs/admin-api.md). Qt Core + Network only; every
// request is asynchronous (QNetworkAccessManager), answers arrive as typed signals, so the window never waits and
// widgets never see JSON.
//
// Reachability: every answer updates it. Unreachable (connection refused, timeout, TLS failure) and Unauthorized
// (401: wrong credentials) are what the console's banner shows; Ok once a request succeeds again.
// Threading: the thread the object lives on (the GUI thread); signals are emitted from its event loop.
#pragma once

#include "AdminTypes.h"

#include <QList>
#include <QObject>
#include <QString>
#include <QUrl>

#include <functional>
#include <memory>

class QNetworkAccessManager;
class QNetworkReply;

namespace ferry::console {

// A broker the console knows: where it is and who logs in. The password is kept by ProfileStore (the platform's
// secret store), never in the settings file.
struct Profile {
    QString name;
    QUrl url; // http(s)://host:port of admin.listen
    QString user;
    QString password;
};

class AdminClient : public QObject {
    Q_OBJECT
public:
    enum class Reachability { Unknown, Ok, Unreachable, Unauthorized };
    Q_ENUM(Reachability)

    explicit AdminClient(QObject *parent = nullptr);

    // Switches broker: requests already sent to the previous one are dropped (their answers are not emitted).
    void setProfile(const Profile &profile);
    const Profile &profile() const { return profile_; }
    Reachability reachability() const { return reachability_; }
    // How long a request may take before the broker counts as unreachable (default 10 s).
    void setTimeoutMs(int ms) { timeoutMs_ = ms; }

    // Reads; each answers with its signal below.
    void fetchOverview();
    void fetchQueues();
    void fetchTopics();
    void fetchConnections();
    void fetchExchanges();
    void fetchBindings();
    void fetchDeadLetters();
    void fetchReplication();
    void fetchGroups();
    void fetchGroup(const QString &group);
    // A page of messages, not consumed: pageReceived. offset -1: from the source's first message.
    void browse(const MessageSource &source, qint64 offset, int count);
    // By any id (kernel id, RocketMQ msgId) or key: messageFound, or changeFinished(false) when there is none.
    void findMessage(const QString &idOrKey);
    // The messages of a store-time range (ms since the epoch) of a source, from its first one (offset -1) or from
    // offset (the next page): pageReceived.
    void browseTimeRange(const MessageSource &source, qint64 beginMs, qint64 endMs, int count, qint64 offset = -1);

    // Changes; each answers with changeFinished(what, ok, message) and refetches the list it changed.
    void saveTopic(const TopicSpec &spec); // create or update
    void deleteTopic(const QString &name);
    void declareQueue(const QString &vhost, const QString &name, bool durable);
    void deleteQueue(const QString &vhost, const QString &name); // refetches the bindings too: its own are gone
    // type: direct, fanout, topic or headers. The broker refuses amq.* names and a differing existing exchange.
    void declareExchange(const QString &vhost, const QString &name, const QString &type, bool durable, bool autoDelete);
    void deleteExchange(const QString &vhost, const QString &name); // refetches the bindings too
    // Binds exchange `source` to `destination`, a queue or an exchange (destinationType "queue" or "exchange").
    // arguments: what a headers exchange matches (values as text, x-match all or any); empty for the other types.
    void bind(const QString &vhost, const QString &source, const QString &destination, const QString &destinationType,
              const QString &routingKey, const QVariantMap &arguments = {});
    // Removes that binding, named by its properties key.
    void unbind(const BindingInfo &binding);
    // A test message through an exchange ("" or "amq.default": the default exchange).
    void publish(const QString &vhost, const QString &exchange, const QString &routingKey, const QByteArray &payload);
    void purgeQueue(const QString &vhost, const QString &name);
    void closeConnection(const QString &name);
    // Promotes this broker (a slave) to master with role ("SYNC_MASTER" or "ASYNC_MASTER"); it restarts in place.
    void promote(const QString &role, bool force);
    // Commits a new offset for every queue of topic in group: to `offset`, or (byTime) to the first message stored at
    // or after `value` ms since the epoch. The group need not have members.
    void resetOffset(const QString &group, const QString &topic, bool byTime, qint64 value);
    // Resends messages of source (a queue, a topic queue or a DLQ) to destination (their origin by default), in
    // batches of batchSize: resendProgress after each batch, then resendFinished with every message's result.
    void resend(const MessageSource &source, const QList<qint64> &offsets, const ResendDestination &destination = {},
                int batchSize = 100);
    // Every message of a dead-letter queue as CSV (the API's export): exportReady.
    void exportDeadLettersCsv(const MessageSource &source);

signals:
    void overviewReceived(const ferry::console::OverviewInfo &overview);
    void queuesReceived(const QList<ferry::console::QueueInfo> &queues);
    void topicsReceived(const QList<ferry::console::TopicInfo> &topics);
    void connectionsReceived(const QList<ferry::console::ConnectionInfo> &connections);
    void exchangesReceived(const QList<ferry::console::ExchangeInfo> &exchanges);
    void bindingsReceived(const QList<ferry::console::BindingInfo> &bindings);
    void deadLettersReceived(const QList<ferry::console::DeadLetterQueueInfo> &queues);
    void replicationReceived(const ferry::console::ReplicationInfo &replication);
    void groupsReceived(const QList<ferry::console::GroupInfo> &groups);
    void groupReceived(const ferry::console::GroupInfo &group);
    void pageReceived(const ferry::console::MessagePage &page);
    void messageFound(const ferry::console::MessageInfo &message);
    void resendProgress(int done, int total);
    void resendFinished(const QList<ferry::console::ResendResult> &results);
    void exportReady(const QByteArray &csv);
    // what: a sentence ("create topic 'T'"); message: the API's reason when !ok.
    void changeFinished(const QString &what, bool ok, const QString &message);
    void reachabilityChanged(ferry::console::AdminClient::Reachability reachability, const QString &detail);

private:
    struct Answer {
        int status = 0;          // HTTP status; 0 when there was no HTTP answer
        QByteArray body;
        QString networkError;    // when status is 0
    };
    using Handler = std::function<void(const Answer &)>;
    void send(const QByteArray &method, const QString &path, const QByteArray &body, Handler handler);
    // GET path, a JSON array of T: emits `received` with it (nothing when the answer is not 200).
    template <typename T>
    void fetchList(const QString &path, void (AdminClient::*received)(const QList<T> &));
    void change(const QString &what, const QByteArray &method, const QString &path, const QByteArray &body,
                std::function<void()> then);
    void setReachability(Reachability r, const QString &detail);
    static QString segment(const QString &s); // percent-encoded path segment ("/" -> "%2F")
    // /api/v1/bindings/{vhost}/e/{source}/{q|e}/{destination}: the bindings between one source and one destination.
    static QString bindingsPath(const QString &vhost, const QString &source, const QString &destination,
                                const QString &destinationType);
    // The path of a source's messages resource (".../messages"), and of its resend (null for a plain queue: the
    // generic /messages/resend takes it in the body).
    static QString messagesPath(const MessageSource &source);
    // GET the source's messages with query ("?count=..."); pageReceived, or changeFinished(what, false, reason).
    void browsePage(const MessageSource &source, QString query, const QString &what);
    void resendBatch(const MessageSource &source, QList<qint64> offsets, const ResendDestination &destination,
                     int batchSize,
                     std::shared_ptr<QList<ResendResult>> results, int total);
    static QString reasonOf(const Answer &answer);

    QNetworkAccessManager *network_;
    Profile profile_;
    quint64 generation_ = 0; // bumped by setProfile: answers of an older generation are dropped
    int timeoutMs_ = 10000;
    Reachability reachability_ = Reachability::Unknown;
};

} // namespace ferry::console
