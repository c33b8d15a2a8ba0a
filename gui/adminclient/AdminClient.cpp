#include "AdminClient.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>

namespace ferry::console {

AdminClient::AdminClient(QObject *parent) : QObject(parent), network_(new QNetworkAccessManager(this))
{
    qRegisterMetaType<OverviewInfo>();
    qRegisterMetaType<QueueInfo>();
    qRegisterMetaType<TopicInfo>();
    qRegisterMetaType<ConnectionInfo>();
    qRegisterMetaType<MessagePage>();
    qRegisterMetaType<MessageInfo>();
    qRegisterMetaType<DeadLetterQueueInfo>();
    qRegisterMetaType<ResendResult>();
    qRegisterMetaType<ReplicationInfo>();
    qRegisterMetaType<GroupInfo>();
    qRegisterMetaType<ExchangeInfo>();
    qRegisterMetaType<BindingInfo>();
}

void AdminClient::setProfile(const Profile &profile)
{
    profile_ = profile;
    ++generation_;
    setReachability(Reachability::Unknown, QString());
}

QString AdminClient::segment(const QString &s)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(s));
}

QString AdminClient::reasonOf(const Answer &answer)
{
    if (answer.status == 0)
        return answer.networkError;
    const QJsonObject o = QJsonDocument::fromJson(answer.body).object();
    const QString reason = o.value(QLatin1String("reason")).toString();
    return QStringLiteral("%1 %2").arg(answer.status).arg(reason.isEmpty() ? QString::fromUtf8(answer.body) : reason);
}

void AdminClient::setReachability(Reachability r, const QString &detail)
{
    if (r == reachability_ && r != Reachability::Unreachable && r != Reachability::Unauthorized)
        return;
    reachability_ = r;
    emit reachabilityChanged(r, detail);
}

void AdminClient::send(const QByteArray &method, const QString &path, const QByteArray &body, Handler handler)
{
    QUrl url = profile_.url;
    // The path is already percent-encoded segment by segment (segment()); keep it as is. A "?query" goes to the
    // URL's query.
    const qsizetype question = path.indexOf(QLatin1Char('?'));
    url.setPath(url.path(QUrl::FullyEncoded) + path.left(question), QUrl::StrictMode);
    if (question >= 0)
        url.setQuery(path.mid(question + 1), QUrl::StrictMode);
    QNetworkRequest request(url);
    request.setTransferTimeout(timeoutMs_);
    request.setRawHeader("Authorization",
                         "Basic " + (profile_.user + QLatin1Char(':') + profile_.password).toUtf8().toBase64());
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    QNetworkReply *reply = network_->sendCustomRequest(request, method, body);
    const quint64 generation = generation_;
    connect(reply, &QNetworkReply::finished, this, [this, reply, generation, handler = std::move(handler)] {
        reply->deleteLater();
        if (generation != generation_)
            return; // sent to the broker of another profile
        Answer answer;
        answer.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        answer.body = reply->readAll();
        if (answer.status == 0) {
            answer.networkError = reply->errorString();
            setReachability(Reachability::Unreachable,
                            QStringLiteral("%1 is unreachable: %2").arg(profile_.url.toString(), answer.networkError));
        } else if (answer.status == 401) {
            setReachability(Reachability::Unauthorized,
                            QStringLiteral("%1 refused the credentials of user '%2'").arg(profile_.url.toString(),
                                                                                         profile_.user));
        } else {
            setReachability(Reachability::Ok, QString());
        }
        handler(answer);
    });
}

namespace {

template <typename T>
QList<T> listOf(const QByteArray &body)
{
    QList<T> out;
    for (const QJsonValue &v : QJsonDocument::fromJson(body).array())
        out.append(T::fromJson(v.toObject()));
    return out;
}

} // namespace

template <typename T>
void AdminClient::fetchList(const QString &path, void (AdminClient::*received)(const QList<T> &))
{
    send("GET", path, {}, [this, received](const Answer &a) {
        if (a.status == 200)
            emit(this->*received)(listOf<T>(a.body));
    });
}

void AdminClient::fetchOverview()
{
    send("GET", QStringLiteral("/api/v1/overview"), {}, [this](const Answer &a) {
        if (a.status == 200)
            emit overviewReceived(OverviewInfo::fromJson(QJsonDocument::fromJson(a.body).object()));
    });
}

void AdminClient::fetchQueues() { fetchList(QStringLiteral("/api/v1/queues"), &AdminClient::queuesReceived); }
void AdminClient::fetchTopics() { fetchList(QStringLiteral("/api/v1/topics"), &AdminClient::topicsReceived); }
void AdminClient::fetchConnections()
{
    fetchList(QStringLiteral("/api/v1/connections"), &AdminClient::connectionsReceived);
}
void AdminClient::fetchExchanges() { fetchList(QStringLiteral("/api/v1/exchanges"), &AdminClient::exchangesReceived); }
void AdminClient::fetchBindings() { fetchList(QStringLiteral("/api/v1/bindings"), &AdminClient::bindingsReceived); }
void AdminClient::fetchDeadLetters()
{
    fetchList(QStringLiteral("/api/v1/dead-letters"), &AdminClient::deadLettersReceived);
}
void AdminClient::fetchGroups() { fetchList(QStringLiteral("/api/v1/consumer-groups"), &AdminClient::groupsReceived); }

void AdminClient::fetchReplication()
{
    send("GET", QStringLiteral("/api/v1/replication"), {}, [this](const Answer &a) {
        if (a.status == 200)
            emit replicationReceived(ReplicationInfo::fromJson(QJsonDocument::fromJson(a.body).object()));
    });
}

void AdminClient::fetchGroup(const QString &group)
{
    send("GET", QStringLiteral("/api/v1/consumer-groups/") + segment(group), {}, [this](const Answer &a) {
        if (a.status == 200)
            emit groupReceived(GroupInfo::fromJson(QJsonDocument::fromJson(a.body).object()));
    });
}

void AdminClient::resetOffset(const QString &group, const QString &topic, bool byTime, qint64 value)
{
    const QJsonObject body{{QStringLiteral("topic"), topic},
                           {byTime ? QStringLiteral("timestamp") : QStringLiteral("offset"), value}};
    change(QStringLiteral("reset the offsets of group '%1' on topic '%2'").arg(group, topic), "POST",
           QStringLiteral("/api/v1/consumer-groups/%1/reset-offset").arg(segment(group)),
           QJsonDocument(body).toJson(QJsonDocument::Compact), [this, group] {
               fetchGroups();
               fetchGroup(group);
           });
}

void AdminClient::promote(const QString &role, bool force)
{
    change(QStringLiteral("promote to %1").arg(role), "POST", QStringLiteral("/api/v1/replication/promote"),
           QJsonDocument(QJsonObject{{QStringLiteral("role"), role}, {QStringLiteral("force"), force}})
               .toJson(QJsonDocument::Compact),
           [this] { fetchReplication(); });
}

QString AdminClient::messagesPath(const MessageSource &source)
{
    switch (source.kind) {
    case MessageSource::Kind::Queue:
        return QStringLiteral("/api/v1/queues/%1/%2/messages").arg(segment(source.vhost), segment(source.name));
    case MessageSource::Kind::TopicQueue:
        return QStringLiteral("/api/v1/topics/%1/messages").arg(segment(source.name));
    case MessageSource::Kind::AmqpDeadLetters:
        return QStringLiteral("/api/v1/dead-letters/amqp/%1/%2/messages").arg(segment(source.vhost), segment(source.name));
    case MessageSource::Kind::RocketDeadLetters:
        return QStringLiteral("/api/v1/dead-letters/rocketmq/%1/messages").arg(segment(source.name));
    }
    return QString();
}

namespace {

MessagePage pageOf(const MessageSource &source, const QByteArray &body)
{
    const QJsonObject o = QJsonDocument::fromJson(body).object();
    MessagePage page;
    page.source = source;
    for (const QJsonValue &m : o.value(QLatin1String("messages")).toArray())
        page.messages.append(MessageInfo::fromJson(m.toObject()));
    page.nextOffset = o.value(QLatin1String("next_offset")).toInteger();
    page.minOffset = o.value(QLatin1String("min_offset")).toInteger();
    page.maxOffset = o.value(QLatin1String("max_offset")).toInteger();
    return page;
}

} // namespace

void AdminClient::browse(const MessageSource &source, qint64 offset, int count)
{
    QString query = QStringLiteral("?count=%1").arg(count);
    if (offset >= 0)
        query += QStringLiteral("&offset=%1").arg(offset);
    browsePage(source, query, QStringLiteral("browse %1").arg(source.describe()));
}

void AdminClient::browseTimeRange(const MessageSource &source, qint64 beginMs, qint64 endMs, int count, qint64 offset)
{
    QString query = QStringLiteral("?count=%1&begin=%2&end=%3").arg(count).arg(beginMs).arg(endMs);
    if (offset >= 0)
        query += QStringLiteral("&offset=%1").arg(offset);
    browsePage(source, query, QStringLiteral("search %1 by time").arg(source.describe()));
}

void AdminClient::browsePage(const MessageSource &source, QString query, const QString &what)
{
    if (source.kind == MessageSource::Kind::TopicQueue || source.kind == MessageSource::Kind::RocketDeadLetters)
        query += QStringLiteral("&queue_id=%1").arg(source.queueId);
    send("GET", messagesPath(source) + query, {}, [this, source, what](const Answer &a) {
        if (a.status == 200)
            emit pageReceived(pageOf(source, a.body));
        else
            emit changeFinished(what, false, reasonOf(a));
    });
}

void AdminClient::findMessage(const QString &idOrKey)
{
    send("GET", QStringLiteral("/api/v1/messages/") + segment(idOrKey), {}, [this, idOrKey](const Answer &a) {
        if (a.status == 200)
            emit messageFound(MessageInfo::fromJson(QJsonDocument::fromJson(a.body).object()));
        else
            emit changeFinished(QStringLiteral("find message '%1'").arg(idOrKey), false, reasonOf(a));
    });
}

void AdminClient::resend(const MessageSource &source, const QList<qint64> &offsets,
                         const ResendDestination &destination, int batchSize)
{
    auto results = std::make_shared<QList<ResendResult>>();
    emit resendProgress(0, static_cast<int>(offsets.size()));
    resendBatch(source, offsets, destination, std::max(1, batchSize), results, static_cast<int>(offsets.size()));
}

void AdminClient::resendBatch(const MessageSource &source, QList<qint64> offsets,
                              const ResendDestination &destination, int batchSize,
                              std::shared_ptr<QList<ResendResult>> results, int total)
{
    if (offsets.isEmpty()) {
        emit resendFinished(*results);
        return;
    }
    const QList<qint64> batch = offsets.mid(0, batchSize);
    offsets.remove(0, batch.size());
    QJsonArray list;
    for (qint64 o : batch)
        list.append(o);
    QString path;
    QJsonObject body{{QStringLiteral("offsets"), list}};
    if (destination.kind != ResendDestination::Kind::Origin)
        body.insert(QStringLiteral("destination"), destination.toJson());
    switch (source.kind) {
    case MessageSource::Kind::Queue:
        path = QStringLiteral("/api/v1/messages/resend");
        body.insert(QStringLiteral("source"), QJsonObject{{QStringLiteral("vhost"), source.vhost},
                                                           {QStringLiteral("queue"), source.name}});
        break;
    case MessageSource::Kind::TopicQueue:
        path = QStringLiteral("/api/v1/messages/resend");
        body.insert(QStringLiteral("source"), QJsonObject{{QStringLiteral("topic"), source.name},
                                                           {QStringLiteral("queue_id"), source.queueId}});
        break;
    case MessageSource::Kind::AmqpDeadLetters:
    case MessageSource::Kind::RocketDeadLetters:
        path = messagesPath(source);
        path.chop(QStringLiteral("messages").size());
        path += QStringLiteral("resend");
        break;
    }
    send("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact),
         [this, source, offsets, destination, batchSize, results, total, batch](const Answer &a) {
             if (a.status == 200) {
                 for (const QJsonValue &v : QJsonDocument::fromJson(a.body).object().value(QLatin1String("results")).toArray()) {
                     const QJsonObject o = v.toObject();
                     results->append({o.value(QLatin1String("offset")).toInteger(), o.value(QLatin1String("ok")).toBool(),
                                      o.value(QLatin1String("destination")).toString(),
                                      o.value(QLatin1String("error")).toString()});
                 }
             } else {
                 for (qint64 o : batch)
                     results->append({o, false, QString(), reasonOf(a)});
             }
             emit resendProgress(static_cast<int>(results->size()), total);
             resendBatch(source, offsets, destination, batchSize, results, total);
         });
}

void AdminClient::exportDeadLettersCsv(const MessageSource &source)
{
    QString path = messagesPath(source);
    path.chop(QStringLiteral("messages").size());
    send("GET", path + QStringLiteral("export?format=csv"), {}, [this, source](const Answer &a) {
        if (a.status == 200)
            emit exportReady(a.body);
        else
            emit changeFinished(QStringLiteral("export %1").arg(source.describe()), false, reasonOf(a));
    });
}

void AdminClient::change(const QString &what, const QByteArray &method, const QString &path, const QByteArray &body,
                         std::function<void()> then)
{
    send(method, path, body, [this, what, then = std::move(then)](const Answer &a) {
        const bool ok = a.status >= 200 && a.status < 300;
        emit changeFinished(what, ok, ok ? QString() : reasonOf(a));
        if (ok && then)
            then();
    });
}

void AdminClient::saveTopic(const TopicSpec &spec)
{
    if (const QString invalid = spec.validate(); !invalid.isEmpty()) {
        emit changeFinished(QStringLiteral("save topic '%1'").arg(spec.name), false, invalid);
        return;
    }
    const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("read_queue_nums"), spec.readQueues},
                                                      {QStringLiteral("write_queue_nums"), spec.writeQueues},
                                                      {QStringLiteral("perm"), spec.perm}})
                                .toJson(QJsonDocument::Compact);
    change(QStringLiteral("save topic '%1'").arg(spec.name), "PUT", QStringLiteral("/api/v1/topics/") + segment(spec.name),
           body, [this] { fetchTopics(); });
}

void AdminClient::deleteTopic(const QString &name)
{
    change(QStringLiteral("delete topic '%1'").arg(name), "DELETE", QStringLiteral("/api/v1/topics/") + segment(name), {},
           [this] { fetchTopics(); });
}

void AdminClient::declareQueue(const QString &vhost, const QString &name, bool durable)
{
    change(QStringLiteral("declare queue '%1'").arg(name), "PUT",
           QStringLiteral("/api/v1/queues/%1/%2").arg(segment(vhost), segment(name)),
           QJsonDocument(QJsonObject{{QStringLiteral("durable"), durable}}).toJson(QJsonDocument::Compact),
           [this] { fetchQueues(); });
}

void AdminClient::deleteQueue(const QString &vhost, const QString &name)
{
    change(QStringLiteral("delete queue '%1'").arg(name), "DELETE",
           QStringLiteral("/api/v1/queues/%1/%2").arg(segment(vhost), segment(name)), {}, [this] {
               fetchQueues();
               fetchBindings();
           });
}

void AdminClient::declareExchange(const QString &vhost, const QString &name, const QString &type, bool durable,
                                  bool autoDelete)
{
    const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("type"), type},
                                                      {QStringLiteral("durable"), durable},
                                                      {QStringLiteral("auto_delete"), autoDelete}})
                                .toJson(QJsonDocument::Compact);
    change(QStringLiteral("declare exchange '%1'").arg(name), "PUT",
           QStringLiteral("/api/v1/exchanges/%1/%2").arg(segment(vhost), segment(name)), body,
           [this] { fetchExchanges(); });
}

void AdminClient::deleteExchange(const QString &vhost, const QString &name)
{
    change(QStringLiteral("delete exchange '%1'").arg(name), "DELETE",
           QStringLiteral("/api/v1/exchanges/%1/%2").arg(segment(vhost), segment(name)), {}, [this] {
               fetchExchanges();
               fetchBindings();
           });
}

QString AdminClient::bindingsPath(const QString &vhost, const QString &source, const QString &destination,
                                  const QString &destinationType)
{
    const QString kind = destinationType == QLatin1String("exchange") ? QStringLiteral("e") : QStringLiteral("q");
    return QStringLiteral("/api/v1/bindings/%1/e/%2/%3/%4").arg(segment(vhost), segment(source), kind, segment(destination));
}

void AdminClient::bind(const QString &vhost, const QString &source, const QString &destination,
                       const QString &destinationType, const QString &routingKey, const QVariantMap &arguments)
{
    const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("routing_key"), routingKey},
                                                      {QStringLiteral("arguments"), QJsonObject::fromVariantMap(arguments)}})
                                .toJson(QJsonDocument::Compact);
    change(QStringLiteral("bind '%1' to %2 '%3'").arg(source, destinationType, destination), "POST",
           bindingsPath(vhost, source, destination, destinationType), body, [this] { fetchBindings(); });
}

void AdminClient::unbind(const BindingInfo &binding)
{
    change(QStringLiteral("unbind '%1' from %2 '%3'").arg(binding.source, binding.destinationType, binding.destination),
           "DELETE",
           bindingsPath(binding.vhost, binding.source, binding.destination, binding.destinationType) + QLatin1Char('/') +
               segment(binding.propertiesKey),
           {}, [this] { fetchBindings(); });
}

void AdminClient::publish(const QString &vhost, const QString &exchange, const QString &routingKey,
                          const QByteArray &payload)
{
    const QString x = exchange.isEmpty() ? QStringLiteral("amq.default") : exchange;
    const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("routing_key"), routingKey},
                                                      {QStringLiteral("payload"), QString::fromLatin1(payload.toBase64())},
                                                      {QStringLiteral("payload_encoding"), QStringLiteral("base64")}})
                                .toJson(QJsonDocument::Compact);
    change(QStringLiteral("publish to '%1'").arg(x), "POST",
           QStringLiteral("/api/v1/exchanges/%1/%2/publish").arg(segment(vhost), segment(x)), body,
           [this] { fetchQueues(); });
}

void AdminClient::purgeQueue(const QString &vhost, const QString &name)
{
    change(QStringLiteral("purge queue '%1'").arg(name), "DELETE",
           QStringLiteral("/api/v1/queues/%1/%2/contents").arg(segment(vhost), segment(name)), {},
           [this] { fetchQueues(); });
}

void AdminClient::closeConnection(const QString &name)
{
    change(QStringLiteral("close connection '%1'").arg(name), "DELETE",
           QStringLiteral("/api/v1/connections/") + segment(name), {}, [this] { fetchConnections(); });
}

} // namespace ferry::console
