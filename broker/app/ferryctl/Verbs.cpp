#include "Verbs.h"

#include "Render.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QUrlQuery>

namespace {

// ---- arguments ---------------------------------------------------------------------------------------------------

QString seg(const QString& s)
{
    return AdminClient::segment(s);
}

QByteArray compact(const QJsonObject& o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

qint64 integerArg(const QString& text, const QString& what)
{
    bool ok = false;
    const qint64 n = text.toLongLong(&ok);
    if (!ok)
        throw UsageError{QStringLiteral("%1 must be an integer, not '%2'").arg(what, text)};
    return n;
}

bool booleanArg(const QString& text, const QString& what)
{
    if (text == QLatin1String("true"))
        return true;
    if (text == QLatin1String("false"))
        return false;
    throw UsageError{QStringLiteral("%1 must be true or false, not '%2'").arg(what, text)};
}

// A --arg value: integers and decimals as JSON numbers, true/false as booleans, anything else as a string.
QJsonValue typedValue(const QString& text)
{
    static const QRegularExpression integer(QStringLiteral("^-?[0-9]+$"));
    static const QRegularExpression decimal(QStringLiteral("^-?[0-9]+\\.[0-9]+$"));
    if (integer.match(text).hasMatch()) {
        bool ok = false;
        const qint64 n = text.toLongLong(&ok);
        if (ok)
            return QJsonValue(n);
    }
    if (decimal.match(text).hasMatch())
        return QJsonValue(text.toDouble());
    if (text == QLatin1String("true") || text == QLatin1String("false"))
        return QJsonValue(text == QLatin1String("true"));
    return QJsonValue(text);
}

QJsonObject argumentsOf(const Invocation& inv)
{
    QJsonObject arguments;
    for (const QString& kv : inv.values("arg")) {
        const qsizetype eq = kv.indexOf('=');
        if (eq <= 0)
            throw UsageError{QStringLiteral("--arg needs key=value, not '%1'").arg(kv)};
        arguments.insert(kv.left(eq), typedValue(kv.mid(eq + 1)));
    }
    return arguments;
}

// Offsets from arguments like "3" "5,7": a JSON array of numbers.
QJsonArray offsetsOf(const QStringList& args)
{
    QJsonArray offsets;
    for (const QString& arg : args)
        for (const QString& part : arg.split(',', Qt::SkipEmptyParts))
            offsets.append(integerArg(part.trimmed(), QStringLiteral("an offset")));
    if (offsets.isEmpty())
        throw UsageError{QStringLiteral("no offsets given")};
    return offsets;
}

// "?offset=..&count=.." from the options given (plus `extra`), or "".
QString pagingQuery(const Invocation& inv, QUrlQuery query = {})
{
    for (const char* name : {"offset", "count"})
        if (inv.has(name))
            query.addQueryItem(name, QString::number(integerArg(inv.value(name), QStringLiteral("--") + name)));
    const QString q = query.toString(QUrl::FullyEncoded);
    return q.isEmpty() ? QString() : '?' + q;
}

QString inVhost(const Invocation& inv)
{
    return QStringLiteral("in vhost '%1'").arg(inv.settings.vhost);
}

// ---- verb builders -----------------------------------------------------------------------------------------------

using PathOf = std::function<QString(const Invocation&)>;

// A path under `base` scoped to the VHOST argument, or to an explicit --vhost, else every vhost.
PathOf perVhost(const QString& base)
{
    return [base](const Invocation& inv) {
        if (!inv.args.isEmpty())
            return base + '/' + seg(inv.args.first());
        if (inv.settings.vhostGiven)
            return base + '/' + seg(inv.settings.vhost);
        return base;
    };
}

PathOf fixed(const QString& path)
{
    return [path](const Invocation&) { return path; };
}

// GET path, shown as key/value lines (or the JSON with --json).
std::function<int(Invocation&)> objectView(QString path)
{
    return [path](Invocation& inv) {
        const Reply r = inv.client.call("GET", path);
        if (inv.settings.json)
            printAnswer(r);
        else
            printObject(r.json().toObject());
        return 0;
    };
}

// GET, then a table of the answer's array (or of answer[arrayKey]); no columns: the rows' own keys.
std::function<int(Invocation&)> listing(PathOf path, QList<Column> columns, QString arrayKey = {})
{
    return [path = std::move(path), columns = std::move(columns), arrayKey = std::move(arrayKey)](Invocation& inv) {
        const Reply r = inv.client.call("GET", path(inv));
        if (inv.settings.json) {
            printAnswer(r);
            return 0;
        }
        const QJsonValue body = r.json();
        const QJsonArray rows = arrayKey.isEmpty() ? body.toArray() : body.toObject().value(arrayKey).toArray();
        printTable(rows, columns.isEmpty() ? columnsOf(rows) : columns);
        if (!arrayKey.isEmpty() && body.toObject().contains("next_offset"))
            print(QStringLiteral("\nnext offset: %1\n").arg(cellText(body.toObject().value("next_offset"))));
        return 0;
    };
}

// The line a change prints, or with --json the answer (nothing when it has no body).
int done(const Invocation& inv, const Reply& reply, const QString& line)
{
    if (inv.settings.json)
        printAnswer(reply);
    else
        print(line + '\n');
    return 0;
}

// A change without a body: prints done201 (done204 on a 204 when given), with {0}, {1}.. the arguments and {vhost}.
std::function<int(Invocation&)> simpleChange(QByteArray method, PathOf path, QString done201, QString done204 = {})
{
    return [=](Invocation& inv) {
        const Reply r = inv.client.call(method, path(inv));
        QString line = done201;
        if (r.status == 204 && !done204.isEmpty())
            line = done204;
        for (int i = 0; i < inv.args.size(); ++i)
            line.replace(QStringLiteral("{%1}").arg(i), inv.args.at(i));
        line.replace(QLatin1String("{vhost}"), inv.settings.vhost);
        return done(inv, r, line);
    };
}

// Per-message results of a resend: a table; exit code 1 when any failed.
int resendResults(const Invocation& inv, const Reply& r)
{
    const QJsonArray results = r.json().toObject().value("results").toArray();
    if (inv.settings.json)
        printAnswer(r);
    else
        printTable(results, {{"OFFSET", "offset"}, {"OK", "ok"}, {"DESTINATION", "destination"}, {"ERROR", "error"}});
    int failed = 0;
    for (const QJsonValue& v : results)
        if (!v.toObject().value("ok").toBool())
            ++failed;
    if (failed > 0)
        throw Failure{QStringLiteral("%1 of %2 messages were not resent").arg(failed).arg(results.size())};
    return 0;
}

QString dlqPath(const Invocation& inv)
{
    const QString kind = inv.arg(0);
    if (kind == QLatin1String("amqp"))
        return QStringLiteral("/api/v1/dead-letters/amqp/%1/%2").arg(seg(inv.settings.vhost), seg(inv.arg(1)));
    if (kind == QLatin1String("rocketmq"))
        return QStringLiteral("/api/v1/dead-letters/rocketmq/%1").arg(seg(inv.arg(1)));
    throw UsageError{QStringLiteral("KIND must be amqp or rocketmq, not '%1'").arg(kind)};
}

void writeFile(const QString& path, const QByteArray& bytes)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(bytes) != bytes.size())
        throw Failure{QStringLiteral("cannot write %1: %2").arg(path, file.errorString())};
}

QJsonObject topicBody(const Invocation& inv)
{
    QJsonObject body;
    const std::pair<const char*, const char*> fields[] = {
        {"read-queues", "read_queue_nums"}, {"write-queues", "write_queue_nums"}, {"perm", "perm"}};
    for (const auto& [option, field] : fields)
        if (inv.has(option))
            body.insert(field, integerArg(inv.value(option), QStringLiteral("--") + option));
    return body;
}

// A time for reset-offset: milliseconds since the epoch, or ISO 8601 (local time when it has no offset).
qint64 timeArg(const QString& text)
{
    static const QRegularExpression digits(QStringLiteral("^[0-9]+$"));
    if (digits.match(text).hasMatch())
        return integerArg(text, QStringLiteral("--to-time"));
    QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!t.isValid())
        t = QDateTime::fromString(text, Qt::ISODate);
    if (!t.isValid())
        throw UsageError{QStringLiteral("--to-time must be ISO 8601 (2024-05-01T12:00:00Z) or milliseconds since "
                                        "the epoch, not '%1'").arg(text)};
    return t.toMSecsSinceEpoch();
}

const QList<OptionSpec> kDeclareOptions = {
    {"durable", "true|false", "survives a restart (default true)"},
    {"auto-delete", "", "deleted when its last consumer (queue) or binding (exchange) goes"},
    {"arg", "key=value", "an argument (repeatable); integers and decimals are sent as numbers, true/false as booleans"},
};
const QList<OptionSpec> kPagingOptions = {
    {"offset", "N", "the first offset to show (default: the oldest)"},
    {"count", "N", "how many messages at most (the API's default when left out)"},
};
const QList<OptionSpec> kTopicOptions = {
    {"read-queues", "N", "read queue count (default 8, or unchanged)"},
    {"write-queues", "N", "write queue count (default 8, or unchanged)"},
    {"perm", "N", "RocketMQ permission bits: 2 read, 4 write (default 6, or unchanged)"},
};

const QList<Column> kMessageColumns = {
    {"OFFSET", "offset"}, {"ID", "id"}, {"EXCHANGE", "exchange", 0, "(default)"}, {"ROUTING_KEY", "routing_key"},
    {"BYTES", "payload_bytes"}, {"STORE_TIME", "store_time", kTime},
    {"PAYLOAD", "payload", 60},
};
const QList<Column> kTopicMessageColumns = {
    {"OFFSET", "offset"}, {"ID", "msg_id|id"}, {"TAGS", "tags"}, {"KEYS", "keys"}, {"BYTES", "payload_bytes"},
    {"STORE_TIME", "store_time", kTime}, {"BODY", "payload|body", 60},
};
const QList<Column> kDeadLetterColumns = {
    {"OFFSET", "offset"}, {"ID", "msg_id|id"}, {"ROUTING_KEY", "routing_key"}, {"TAGS", "tags"},
    {"FROM", "x_death.0.queue|properties.DLQ_ORIGIN_TOPIC|properties.RETRY_TOPIC"}, {"REASON", "x_death.0.reason"},
    {"BYTES", "payload_bytes"}, {"STORE_TIME", "store_time", kTime}, {"PAYLOAD", "payload|body", 60},
};

std::vector<Verb> buildVerbs()
{
    std::vector<Verb> v;

    // ---- broker ----
    v.push_back({"overview", "", "product, version, role, plugins, listeners, totals, storage", "GET /api/v1/overview",
                 0, 0, {}, objectView("/api/v1/overview")});
    v.push_back({"metrics", "", "the Prometheus text of /metrics, as is", "GET /metrics", 0, 0, {},
                 [](Invocation& inv) {
                     writeStdout(inv.client.call("GET", "/metrics").body);
                     return 0;
                 }});

    // ---- vhosts ----
    v.push_back({"list-vhosts", "", "the vhosts", "GET /api/v1/vhosts", 0, 0, {},
                 listing(fixed("/api/v1/vhosts"), {{"NAME", "name"}})});
    v.push_back({"add-vhost", "NAME", "create a vhost", "PUT /api/v1/vhosts/{name}", 1, 1, {},
                 simpleChange("PUT", [](const Invocation& inv) { return "/api/v1/vhosts/" + seg(inv.arg(0)); },
                              "added vhost '{0}'", "vhost '{0}' exists")});
    v.push_back({"delete-vhost", "NAME", "delete a vhost and everything in it", "DELETE /api/v1/vhosts/{name}", 1, 1,
                 {}, simpleChange("DELETE", [](const Invocation& inv) { return "/api/v1/vhosts/" + seg(inv.arg(0)); },
                                  "deleted vhost '{0}'")});

    // ---- queues ----
    v.push_back({"list-queues", "[VHOST]", "the queues (of every vhost, or of VHOST / --vhost)",
                 "GET /api/v1/queues[/{vhost}]", 0, 1, {},
                 listing(perVhost("/api/v1/queues"),
                         {{"NAME", "name"}, {"VHOST", "vhost"}, {"MESSAGES", "messages"}, {"READY", "messages_ready"},
                          {"UNACKED", "messages_unacknowledged"}, {"CONSUMERS", "consumers"}})});
    v.push_back({"declare-queue", "NAME [--durable true|false] [--auto-delete] [--arg key=value ...]",
                 "declare a queue in --vhost", "PUT /api/v1/queues/{vhost}/{name}", 1, 1, kDeclareOptions,
                 [](Invocation& inv) {
                     QJsonObject body{{"durable", booleanArg(inv.value("durable", "true"), "--durable")},
                                      {"auto_delete", inv.has("auto-delete")},
                                      {"arguments", argumentsOf(inv)}};
                     const Reply r = inv.client.call(
                         "PUT", QStringLiteral("/api/v1/queues/%1/%2").arg(seg(inv.settings.vhost), seg(inv.arg(0))),
                         compact(body));
                     return done(inv, r, QStringLiteral("declared queue '%1' %2%3")
                                             .arg(inv.arg(0), inVhost(inv),
                                                  r.status == 204 ? QStringLiteral(" (an equal one existed)") : QString()));
                 }});
    v.push_back({"delete-queue", "NAME [--if-unused] [--if-empty]", "delete a queue in --vhost",
                 "DELETE /api/v1/queues/{vhost}/{name}[?if-unused=true][&if-empty=true]", 1, 1,
                 {{"if-unused", "", "refuse when it has consumers"}, {"if-empty", "", "refuse when it has messages"}},
                 [](Invocation& inv) {
                     QUrlQuery query;
                     if (inv.has("if-unused"))
                         query.addQueryItem("if-unused", "true");
                     if (inv.has("if-empty"))
                         query.addQueryItem("if-empty", "true");
                     QString path = QStringLiteral("/api/v1/queues/%1/%2").arg(seg(inv.settings.vhost), seg(inv.arg(0)));
                     if (!query.isEmpty())
                         path += '?' + query.toString(QUrl::FullyEncoded);
                     const Reply r = inv.client.call("DELETE", path);
                     return done(inv, r, QStringLiteral("deleted queue '%1' %2").arg(inv.arg(0), inVhost(inv)));
                 }});
    v.push_back({"purge-queue", "NAME", "drop the ready messages of a queue in --vhost",
                 "DELETE /api/v1/queues/{vhost}/{name}/contents", 1, 1, {},
                 simpleChange("DELETE",
                              [](const Invocation& inv) {
                                  return QStringLiteral("/api/v1/queues/%1/%2/contents")
                                      .arg(seg(inv.settings.vhost), seg(inv.arg(0)));
                              },
                              "purged queue '{0}' in vhost '{vhost}'")});

    // ---- exchanges and bindings ----
    v.push_back({"list-exchanges", "[VHOST]", "the exchanges (of every vhost, or of VHOST / --vhost)",
                 "GET /api/v1/exchanges[/{vhost}]", 0, 1, {},
                 listing(perVhost("/api/v1/exchanges"),
                         {{"NAME", "name", 0, "(default)"}, {"VHOST", "vhost"}, {"TYPE", "type"}, {"DURABLE", "durable"},
                          {"AUTO_DELETE", "auto_delete"}, {"INTERNAL", "internal"}})});
    v.push_back({"declare-exchange", "NAME TYPE [--durable true|false] [--internal] [--auto-delete] [--arg key=value ...]",
                 "declare an exchange in --vhost (TYPE: direct, fanout, topic, headers, x-delayed-message)",
                 "PUT /api/v1/exchanges/{vhost}/{name}", 2, 2,
                 kDeclareOptions + QList<OptionSpec>{{"internal", "", "clients cannot publish to it"}},
                 [](Invocation& inv) {
                     QJsonObject body{{"type", inv.arg(1)},
                                      {"durable", booleanArg(inv.value("durable", "true"), "--durable")},
                                      {"auto_delete", inv.has("auto-delete")},
                                      {"internal", inv.has("internal")},
                                      {"arguments", argumentsOf(inv)}};
                     const Reply r = inv.client.call(
                         "PUT", QStringLiteral("/api/v1/exchanges/%1/%2").arg(seg(inv.settings.vhost), seg(inv.arg(0))),
                         compact(body));
                     return done(inv, r, QStringLiteral("declared %1 exchange '%2' %3%4")
                                             .arg(inv.arg(1), inv.arg(0), inVhost(inv),
                                                  r.status == 204 ? QStringLiteral(" (an equal one existed)") : QString()));
                 }});
    v.push_back({"delete-exchange", "NAME [--if-unused]", "delete an exchange in --vhost",
                 "DELETE /api/v1/exchanges/{vhost}/{name}[?if-unused=true]", 1, 1,
                 {{"if-unused", "", "refuse when it has bindings"}}, [](Invocation& inv) {
                     QString path =
                         QStringLiteral("/api/v1/exchanges/%1/%2").arg(seg(inv.settings.vhost), seg(inv.arg(0)));
                     if (inv.has("if-unused"))
                         path += QLatin1String("?if-unused=true");
                     const Reply r = inv.client.call("DELETE", path);
                     return done(inv, r, QStringLiteral("deleted exchange '%1' %2").arg(inv.arg(0), inVhost(inv)));
                 }});
    v.push_back({"list-bindings", "[VHOST]", "the bindings (of every vhost, or of VHOST / --vhost)",
                 "GET /api/v1/bindings[/{vhost}]", 0, 1, {},
                 listing(perVhost("/api/v1/bindings"),
                         {{"SOURCE", "source"}, {"DESTINATION", "destination"}, {"DESTINATION_TYPE", "destination_type"},
                          {"ROUTING_KEY", "routing_key"}, {"VHOST", "vhost"}})});
    const QList<OptionSpec> toExchange = {{"to-exchange", "", "the destination is an exchange, not a queue"}};
    v.push_back({"bind", "SOURCE QUEUE [ROUTING_KEY] [--to-exchange]",
                 "bind a queue (or with --to-exchange an exchange) to the exchange SOURCE in --vhost",
                 "POST /api/v1/bindings/{vhost}/e/{source}/q/{queue} (/e/{destination} with --to-exchange)", 2, 3,
                 toExchange, [](Invocation& inv) {
                     const QString kind = inv.has("to-exchange") ? QStringLiteral("e") : QStringLiteral("q");
                     const Reply r = inv.client.call(
                         "POST",
                         QStringLiteral("/api/v1/bindings/%1/e/%2/%3/%4")
                             .arg(seg(inv.settings.vhost), seg(inv.arg(0)), kind, seg(inv.arg(1))),
                         compact({{"routing_key", inv.arg(2)}}));
                     return done(inv, r, QStringLiteral("bound %1 '%2' to exchange '%3' with routing key '%4' %5")
                                             .arg(kind == "e" ? "exchange" : "queue", inv.arg(1), inv.arg(0),
                                                  inv.arg(2), inVhost(inv)));
                 }});
    v.push_back({"unbind", "SOURCE QUEUE ROUTING_KEY [--to-exchange]",
                 "remove the binding of a queue (or exchange) to SOURCE with that routing key ('' for none)",
                 "DELETE /api/v1/bindings/{vhost}/e/{source}/q/{queue}/{routing key, or ~ when empty}", 3, 3,
                 toExchange, [](Invocation& inv) {
                     const QString kind = inv.has("to-exchange") ? QStringLiteral("e") : QStringLiteral("q");
                     const QString key = inv.arg(2).isEmpty() ? QStringLiteral("~") : inv.arg(2);
                     const Reply r = inv.client.call(
                         "DELETE", QStringLiteral("/api/v1/bindings/%1/e/%2/%3/%4/%5")
                                       .arg(seg(inv.settings.vhost), seg(inv.arg(0)), kind, seg(inv.arg(1)), seg(key)));
                     return done(inv, r, QStringLiteral("unbound %1 '%2' from exchange '%3' (routing key '%4') %5")
                                             .arg(kind == "e" ? "exchange" : "queue", inv.arg(1), inv.arg(0),
                                                  inv.arg(2), inVhost(inv)));
                 }});

    // ---- users and permissions ----
    v.push_back({"list-users", "", "the users and their tags", "GET /api/v1/users", 0, 0, {},
                 listing(fixed("/api/v1/users"), {{"NAME", "name"}, {"TAGS", "tags"}})});
    v.push_back({"add-user", "NAME PASSWORD [--tags a,b]", "add a user, or set its password and tags",
                 "PUT /api/v1/users/{name}", 2, 2,
                 {{"tags", "a,b", "administrator, monitoring, management (comma-separated; default none)"}},
                 [](Invocation& inv) {
                     QJsonObject body{{"password", inv.arg(1)}};
                     if (inv.has("tags"))
                         body.insert("tags", inv.value("tags"));
                     const Reply r = inv.client.call("PUT", "/api/v1/users/" + seg(inv.arg(0)), compact(body));
                     return done(inv, r, QStringLiteral("%1 user '%2'")
                                             .arg(r.status == 204 ? "updated" : "added", inv.arg(0)));
                 }});
    v.push_back({"delete-user", "NAME", "delete a user", "DELETE /api/v1/users/{name}", 1, 1, {},
                 simpleChange("DELETE", [](const Invocation& inv) { return "/api/v1/users/" + seg(inv.arg(0)); },
                              "deleted user '{0}'")});
    v.push_back({"list-permissions", "", "every user's permissions per vhost", "GET /api/v1/permissions", 0, 0, {},
                 listing(fixed("/api/v1/permissions"), {{"USER", "user"}, {"VHOST", "vhost"}, {"CONFIGURE", "configure"},
                                                        {"WRITE", "write"}, {"READ", "read"}})});
    v.push_back({"set-permissions", "USER CONFIGURE WRITE READ",
                 "set a user's permissions (regular expressions) in --vhost", "PUT /api/v1/permissions/{vhost}/{user}",
                 4, 4, {}, [](Invocation& inv) {
                     const Reply r = inv.client.call(
                         "PUT", QStringLiteral("/api/v1/permissions/%1/%2").arg(seg(inv.settings.vhost), seg(inv.arg(0))),
                         compact({{"configure", inv.arg(1)}, {"write", inv.arg(2)}, {"read", inv.arg(3)}}));
                     return done(inv, r, QStringLiteral("set permissions of user '%1' %2").arg(inv.arg(0), inVhost(inv)));
                 }});

    // ---- connections ----
    v.push_back({"list-connections", "", "the open client connections", "GET /api/v1/connections", 0, 0, {},
                 listing(fixed("/api/v1/connections"),
                         {{"NAME", "name"}, {"PROTOCOL", "protocol"}, {"USER", "user"}, {"VHOST", "vhost"},
                          {"PEER_HOST", "peer_host"}, {"PEER_PORT", "peer_port"}, {"CONNECTED_AT", "connected_at", kTime},
                          {"RECV_OCT", "recv_oct"}, {"SEND_OCT", "send_oct"}})});
    v.push_back({"list-channels", "", "the open channels of every connection (AMQP)", "GET /api/v1/channels", 0, 0, {},
                 listing(fixed("/api/v1/channels"),
                         {{"NAME", "name"}, {"USER", "user"}, {"VHOST", "vhost"}, {"CONSUMERS", "consumer_count"},
                          {"UNACKED", "messages_unacknowledged"}, {"PREFETCH", "prefetch_count"},
                          {"CONFIRM", "confirm"}})});
    v.push_back({"close-connection", "NAME", "close a client connection (NAME as list-connections shows it)",
                 "DELETE /api/v1/connections/{name}", 1, 1, {},
                 simpleChange("DELETE", [](const Invocation& inv) { return "/api/v1/connections/" + seg(inv.arg(0)); },
                              "closed connection '{0}'")});

    // ---- messages ----
    v.push_back({"browse", "QUEUE [--offset N] [--count N]",
                 "the messages of a queue in --vhost, without consuming them",
                 "GET /api/v1/queues/{vhost}/{name}/messages?offset=&count=", 1, 1, kPagingOptions,
                 [](Invocation& inv) {
                     const QString path = QStringLiteral("/api/v1/queues/%1/%2/messages")
                                              .arg(seg(inv.settings.vhost), seg(inv.arg(0))) + pagingQuery(inv);
                     return listing(fixed(path), kMessageColumns, "messages")(inv);
                 }});
    v.push_back({"browse-topic", "TOPIC --queue-id N [--offset N] [--count N]",
                 "the messages of one queue of a RocketMQ topic",
                 "GET /api/v1/topics/{topic}/messages?queue_id=&offset=&count=", 1, 1,
                 QList<OptionSpec>{{"queue-id", "N", "the topic queue (required)"}} + kPagingOptions,
                 [](Invocation& inv) {
                     if (!inv.has("queue-id"))
                         throw UsageError{QStringLiteral("browse-topic needs --queue-id N")};
                     QUrlQuery query;
                     query.addQueryItem("queue_id", QString::number(integerArg(inv.value("queue-id"), "--queue-id")));
                     const QString path = "/api/v1/topics/" + seg(inv.arg(0)) + "/messages" + pagingQuery(inv, query);
                     return listing(fixed(path), kTopicMessageColumns, "messages")(inv);
                 }});
    v.push_back({"publish", "EXCHANGE ROUTING_KEY PAYLOAD",
                 "publish a message (a UTF-8 string) to an exchange in --vhost ('' or amq.default: the default "
                 "exchange)",
                 "POST /api/v1/exchanges/{vhost}/{name}/publish", 3, 3, {}, [](Invocation& inv) {
                     const QString exchange = inv.arg(0).isEmpty() ? QStringLiteral("amq.default") : inv.arg(0);
                     const QJsonObject body{{"routing_key", inv.arg(1)}, {"payload", inv.arg(2)},
                                            {"payload_encoding", "string"}, {"properties", QJsonObject()}};
                     const Reply r = inv.client.call(
                         "POST",
                         QStringLiteral("/api/v1/exchanges/%1/%2/publish").arg(seg(inv.settings.vhost), seg(exchange)),
                         compact(body));
                     const bool routed = r.json().toObject().value("routed").toBool();
                     return done(inv, r, QStringLiteral("published to exchange '%1' %2 with routing key '%3': %4")
                                             .arg(exchange, inVhost(inv), inv.arg(1),
                                                  routed ? QStringLiteral("routed")
                                                         : QStringLiteral("not routed (no queue matched)")));
                 }});
    v.push_back({"publish-topic", "TOPIC BODY [--tags T] [--keys K]", "send a message to a RocketMQ topic",
                 "POST /api/v1/topics/{topic}/publish", 2, 2,
                 {{"tags", "T", "the message's tag"}, {"keys", "K", "the message's keys (space-separated)"}},
                 [](Invocation& inv) {
                     QJsonObject body{{"body", inv.arg(1)}};
                     if (inv.has("tags"))
                         body.insert("tags", inv.value("tags"));
                     if (inv.has("keys"))
                         body.insert("keys", inv.value("keys"));
                     const Reply r = inv.client.call("POST", "/api/v1/topics/" + seg(inv.arg(0)) + "/publish",
                                                     compact(body));
                     const QJsonObject a = r.json().toObject();
                     QString line = QStringLiteral("published to topic '%1'").arg(inv.arg(0));
                     if (a.contains("queue_id"))
                         line += QStringLiteral(": queue %1, offset %2")
                                     .arg(cellText(a.value("queue_id")), cellText(a.value("offset")));
                     if (const QString id = cellText(fieldOf(a, "msg_id|id")); !id.isEmpty())
                         line += QStringLiteral(", msg id %1").arg(id);
                     return done(inv, r, line);
                 }});
    v.push_back({"resend", "--from-queue QUEUE OFFSET[,OFFSET...] [--to-exchange X --routing-key K]",
                 "publish messages of a queue in --vhost again (to their exchange and routing key, or to X with K); "
                 "exit 1 when any failed",
                 "POST /api/v1/messages/resend", 1, -1,
                 {{"from-queue", "QUEUE", "the queue holding the messages (required)"},
                  {"to-exchange", "X", "publish to this exchange instead"},
                  {"routing-key", "K", "with --to-exchange: the routing key (default: the message's)"}},
                 [](Invocation& inv) {
                     if (!inv.has("from-queue"))
                         throw UsageError{QStringLiteral("resend needs --from-queue QUEUE")};
                     if (inv.has("routing-key") && !inv.has("to-exchange"))
                         throw UsageError{QStringLiteral("--routing-key goes with --to-exchange")};
                     QJsonObject body{{"source", QJsonObject{{"vhost", inv.settings.vhost},
                                                             {"queue", inv.value("from-queue")}}},
                                      {"offsets", offsetsOf(inv.args)}};
                     if (inv.has("to-exchange")) {
                         QJsonObject destination{{"vhost", inv.settings.vhost}, {"exchange", inv.value("to-exchange")}};
                         if (inv.has("routing-key"))
                             destination.insert("routing_key", inv.value("routing-key"));
                         body.insert("destination", destination);
                     }
                     return resendResults(inv, inv.client.call("POST", "/api/v1/messages/resend", compact(body)));
                 }});

    // ---- dead letters ----
    v.push_back({"dlq list", "", "the dead-letter queues (AMQP queues that are a dead-letter target, RocketMQ %DLQ% "
                                 "topics) and their depth",
                 "GET /api/v1/dead-letters", 0, 0, {},
                 listing(fixed("/api/v1/dead-letters"),
                         {{"KIND", "kind"}, {"NAME", "name"}, {"VHOST", "vhost"}, {"MESSAGES", "messages"},
                          {"FROM", "dead_lettered_from|group"}})});
    v.push_back({"dlq browse", "KIND NAME [--offset N] [--count N]",
                 "the messages of a dead-letter queue (KIND amqp: NAME is a queue in --vhost; rocketmq: a %DLQ% topic)",
                 "GET /api/v1/dead-letters/{kind}/{name}/messages (amqp: /api/v1/dead-letters/amqp/{vhost}/{queue}/messages)",
                 2, 2, kPagingOptions, [](Invocation& inv) {
                     const QString path = dlqPath(inv) + "/messages" + pagingQuery(inv);
                     return listing(fixed(path), kDeadLetterColumns, "messages")(inv);
                 }});
    v.push_back({"dlq resend", "KIND NAME (OFFSET[,OFFSET...] | --all)",
                 "publish dead letters again to where they were first sent; exit 1 when any failed",
                 "POST /api/v1/dead-letters/{kind}/{name}/resend", 2, -1, {{"all", "", "every message in it"}},
                 [](Invocation& inv) {
                     const QStringList offsets = inv.args.mid(2);
                     if (inv.has("all") == !offsets.isEmpty())
                         throw UsageError{QStringLiteral("dlq resend needs offsets or --all (one of them)")};
                     const QJsonObject body = inv.has("all") ? QJsonObject{{"all", true}}
                                                             : QJsonObject{{"offsets", offsetsOf(offsets)}};
                     return resendResults(inv, inv.client.call("POST", dlqPath(inv) + "/resend", compact(body)));
                 }});
    v.push_back({"dlq export", "KIND NAME [--format json|csv] [--output FILE]",
                 "the messages of a dead-letter queue as JSON or CSV, written as the API sends them",
                 "GET /api/v1/dead-letters/{kind}/{name}/export?format=json|csv", 2, 2,
                 {{"format", "json|csv", "default json"}, {"output", "FILE", "write there instead of stdout"}},
                 [](Invocation& inv) {
                     const QString format = inv.value("format", "json");
                     if (format != QLatin1String("json") && format != QLatin1String("csv"))
                         throw UsageError{QStringLiteral("--format must be json or csv, not '%1'").arg(format)};
                     const Reply r = inv.client.call("GET", dlqPath(inv) + "/export?format=" + format);
                     if (!inv.has("output")) {
                         writeStdout(r.body);
                         return 0;
                     }
                     writeFile(inv.value("output"), r.body);
                     print(QStringLiteral("exported %1 bytes to %2\n").arg(r.body.size()).arg(inv.value("output")));
                     return 0;
                 }});

    // ---- consumer groups ----
    // "members" is a count in the list and the member objects in the detail (which has member_count): MEMBERS reads
    // either, and cellText() shows an array of objects as its length.
    v.push_back({"consumer-groups", "", "the RocketMQ consumer groups, their members and lag",
                 "GET /api/v1/consumer-groups", 0, 0, {},
                 listing(fixed("/api/v1/consumer-groups"),
                         {{"GROUP", "group"}, {"PROTOCOL", "protocol"}, {"MODEL", "model"},
                          {"MEMBERS", "member_count|members"}, {"TOPICS", "topics"}, {"LAG", "lag"}})});
    v.push_back({"consumer-group", "GROUP", "a consumer group's members and its offsets and lag per queue",
                 "GET /api/v1/consumer-groups/{group}", 1, 1, {}, [](Invocation& inv) {
                     const Reply r = inv.client.call("GET", "/api/v1/consumer-groups/" + seg(inv.arg(0)));
                     if (inv.settings.json) {
                         printAnswer(r);
                         return 0;
                     }
                     const QJsonObject g = r.json().toObject();
                     const QJsonValue members = g.value("members");
                     QList<QPair<QString, QString>> lines = {
                         {"group", cellText(fieldOf(g, "group"))},
                         {"protocol", cellText(fieldOf(g, "protocol"))},
                         {"model", cellText(fieldOf(g, "model"))},
                         {"members", cellText(fieldOf(g, "member_count|members"))},
                         {"lag", cellText(fieldOf(g, "lag"))},
                         {"topics", cellText(fieldOf(g, "topics"))},
                     };
                     if (lines.first().second.isEmpty())
                         lines.first().second = inv.arg(0);
                     QString out;
                     for (const auto& [key, value] : lines)
                         out += (key.leftJustified(8) + QLatin1String("  ") + value).trimmed() + '\n';
                     print(out);
                     const QJsonArray memberRows = members.toArray();
                     if (memberRows.isEmpty() || !memberRows.first().isObject()) {
                         print(QStringLiteral("\nmembers: (none)\n"));
                     } else {
                         print(QStringLiteral("\nmembers:\n"));
                         printTable(memberRows, {{"CLIENT_ID", "client_id"}, {"ADDRESS", "address"},
                                                 {"CONNECTION", "connection"}, {"MODEL", "model"},
                                                 {"TOPICS", "topics"}});
                     }
                     print(QStringLiteral("\noffsets:\n"));
                     printTable(g.value("offsets").toArray(),
                                {{"TOPIC", "topic"}, {"QUEUE_ID", "queue_id"}, {"BROKER_OFFSET", "broker_offset"},
                                 {"CONSUMER_OFFSET", "consumer_offset"}, {"LAG", "lag"}});
                     return 0;
                 }});
    v.push_back({"reset-offset", "GROUP TOPIC (--to-time ISO8601|MS | --to-offset N) [--queue-id N]",
                 "move a consumer group's offsets on a topic (every queue, or one) to a time or an offset; exit 1 "
                 "when any queue failed",
                 "POST /api/v1/consumer-groups/{group}/reset-offset", 2, 2,
                 {{"to-time", "ISO8601|MS", "the first message stored at or after this time (ms since the epoch, or "
                                            "ISO 8601; local time without an offset)"},
                  {"to-offset", "N", "this offset (clamped to each queue's first and end offsets)"},
                  {"queue-id", "N", "only this queue of the topic (default: every queue)"}},
                 [](Invocation& inv) {
                     if (inv.has("to-time") == inv.has("to-offset"))
                         throw UsageError{QStringLiteral("reset-offset needs --to-time or --to-offset (one of them)")};
                     QJsonObject body{{"topic", inv.arg(1)}};
                     QString to;
                     if (inv.has("to-time")) {
                         const qint64 ms = timeArg(inv.value("to-time"));
                         body.insert("timestamp", ms);
                         to = QStringLiteral("time %1").arg(
                             QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs));
                     } else {
                         body.insert("offset", integerArg(inv.value("to-offset"), "--to-offset"));
                         to = QStringLiteral("offset %1").arg(inv.value("to-offset"));
                     }
                     QString where = QStringLiteral("topic '%1'").arg(inv.arg(1));
                     if (inv.has("queue-id")) {
                         const qint64 id = integerArg(inv.value("queue-id"), "--queue-id");
                         body.insert("queue_id", id);
                         where = QStringLiteral("queue %1 of %2").arg(id).arg(where);
                     }
                     // A queue that could not be reset makes the answer a 500 whose body is still the results.
                     const Reply r = inv.client.send(
                         "POST", "/api/v1/consumer-groups/" + seg(inv.arg(0)) + "/reset-offset", compact(body));
                     const QJsonArray results = r.json().toObject().value("results").toArray();
                     if (!r.ok() && !r.json().toObject().value("results").isArray())
                         throw AdminClient::errorOf(r);
                     if (inv.settings.json) {
                         printAnswer(r);
                     } else {
                         print(QStringLiteral("reset the offsets of group '%1' on %2 to %3:\n")
                                   .arg(inv.arg(0), where, to));
                         printTable(results, {{"QUEUE_ID", "queue_id"}, {"OFFSET", "offset"}, {"OK", "ok"},
                                              {"ERROR", "error"}});
                     }
                     int failed = 0;
                     for (const QJsonValue& x : results)
                         if (!x.toObject().value("ok").toBool())
                             ++failed;
                     if (failed > 0 || !r.ok())
                         throw Failure{QStringLiteral("%1 of %2 queues were not reset").arg(failed).arg(results.size())};
                     return 0;
                 }});

    // ---- topics ----
    v.push_back({"list-topics", "", "the RocketMQ topics", "GET /api/v1/topics", 0, 0, {},
                 listing(fixed("/api/v1/topics"),
                         {{"NAME", "name"}, {"READ_QUEUES", "read_queue_nums"}, {"WRITE_QUEUES", "write_queue_nums"},
                          {"PERM", "perm"}, {"MESSAGES", "messages"}})});
    v.push_back({"create-topic", "NAME [--read-queues N] [--write-queues N] [--perm N]",
                 "create a topic (an existing one is updated)", "PUT /api/v1/topics/{name}", 1, 1, kTopicOptions,
                 [](Invocation& inv) {
                     const Reply r = inv.client.call("PUT", "/api/v1/topics/" + seg(inv.arg(0)), compact(topicBody(inv)));
                     return done(inv, r, r.status == 204 ? QStringLiteral("topic '%1' existed: updated").arg(inv.arg(0))
                                                         : QStringLiteral("created topic '%1'").arg(inv.arg(0)));
                 }});
    v.push_back({"update-topic", "NAME [--read-queues N] [--write-queues N] [--perm N]",
                 "change an existing topic (what is left out keeps its value)",
                 "GET /api/v1/topics/{name} (404 when missing), then PUT /api/v1/topics/{name}", 1, 1, kTopicOptions,
                 [](Invocation& inv) {
                     const QString path = "/api/v1/topics/" + seg(inv.arg(0));
                     inv.client.call("GET", path);
                     const Reply r = inv.client.call("PUT", path, compact(topicBody(inv)));
                     return done(inv, r, QStringLiteral("updated topic '%1'").arg(inv.arg(0)));
                 }});
    v.push_back({"delete-topic", "NAME", "delete a topic", "DELETE /api/v1/topics/{name}", 1, 1, {},
                 simpleChange("DELETE", [](const Invocation& inv) { return "/api/v1/topics/" + seg(inv.arg(0)); },
                              "deleted topic '{0}'")});
    v.push_back({"topic-status", "NAME", "a topic's queues: min and max offset and messages",
                 "GET /api/v1/topics/{name}", 1, 1, {},
                 [](Invocation& inv) {
                     const auto path = fixed("/api/v1/topics/" + seg(inv.arg(0)));
                     return listing(path, {{"QUEUE_ID", "queue_id"}, {"MIN_OFFSET", "min_offset"},
                                           {"MAX_OFFSET", "max_offset"}, {"MESSAGES", "messages"}},
                                    "queues")(inv);
                 }});

    // ---- definitions ----
    v.push_back({"export-definitions", "[FILE]", "vhosts, users, permissions, queues, exchanges, bindings, topics as "
                                                 "one JSON document (to FILE, or stdout)",
                 "GET /api/v1/definitions", 0, 1, {}, [](Invocation& inv) {
                     const Reply r = inv.client.call("GET", "/api/v1/definitions");
                     if (inv.args.isEmpty()) {
                         printAnswer(r);
                         return 0;
                     }
                     writeFile(inv.arg(0), r.body);
                     print(QStringLiteral("exported definitions to %1\n").arg(inv.arg(0)));
                     return 0;
                 }});
    v.push_back({"import-definitions", "FILE", "create what a definitions document describes",
                 "POST /api/v1/definitions", 1, 1, {}, [](Invocation& inv) {
                     QFile file(inv.arg(0));
                     if (!file.open(QIODevice::ReadOnly))
                         throw Failure{QStringLiteral("cannot read %1: %2").arg(inv.arg(0), file.errorString())};
                     const QByteArray bytes = file.readAll();
                     QJsonParseError error{};
                     const QJsonDocument doc = QJsonDocument::fromJson(bytes, &error);
                     if (error.error != QJsonParseError::NoError)
                         throw Failure{QStringLiteral("%1 is not JSON: %2 at byte %3")
                                           .arg(inv.arg(0), error.errorString())
                                           .arg(error.offset)};
                     if (!doc.isObject())
                         throw Failure{QStringLiteral("%1 is not a definitions document (a JSON object)").arg(inv.arg(0))};
                     const Reply r = inv.client.call("POST", "/api/v1/definitions", bytes);
                     // {"imported": {"vhosts": 2, "users": 1, ...}}: the counts, in the export's order.
                     const QJsonObject counts = r.json().toObject().value("imported").toObject();
                     const QStringList known = {"vhosts", "users", "permissions", "topics", "exchanges", "queues",
                                                "bindings"};
                     QStringList kinds;
                     for (const QString& kind : known)
                         if (counts.contains(kind))
                             kinds << kind;
                     for (auto it = counts.begin(); it != counts.end(); ++it)
                         if (!known.contains(it.key()))
                             kinds << it.key();
                     QStringList parts;
                     for (const QString& kind : kinds)
                         parts << QStringLiteral("%1 %2").arg(cellText(counts.value(kind)), kind);
                     return done(inv, r, QStringLiteral("imported definitions from %1%2")
                                             .arg(inv.arg(0), parts.isEmpty() ? QString() : ": " + parts.join(", ")));
                 }});

    // ---- replication ----
    v.push_back({"replication status", "", "this broker's role, its slaves or its master, offsets",
                 "GET /api/v1/replication", 0, 0, {}, objectView("/api/v1/replication")});
    v.push_back({"replication promote", "[--role SYNC_MASTER|ASYNC_MASTER] [--force]",
                 "make this slave a master (it restarts in place)", "POST /api/v1/replication/promote", 0, 0,
                 {{"role", "SYNC_MASTER|ASYNC_MASTER", "the new role (the broker's default when left out)"},
                  {"force", "", "even while its master is connected"}},
                 [](Invocation& inv) {
                     QJsonObject body{{"force", inv.has("force")}};
                     if (inv.has("role"))
                         body.insert("role", inv.value("role"));
                     const Reply r = inv.client.call("POST", "/api/v1/replication/promote", compact(body));
                     const QJsonObject a = r.json().toObject();
                     return done(inv, r, QStringLiteral("promoted to %1%2")
                                             .arg(a.value("role").toString(inv.value("role", "master")),
                                                  a.value("restarting").toBool()
                                                      ? QStringLiteral("; the broker restarts in place")
                                                      : QString()));
                 }});
    v.push_back({"replication follow", "MASTER_ADDR", "make this slave follow another master (HOST:PORT)",
                 "POST /api/v1/replication/follow", 1, 1, {}, [](Invocation& inv) {
                     const Reply r = inv.client.call("POST", "/api/v1/replication/follow",
                                                     compact({{"master", inv.arg(0)}}));
                     return done(inv, r, QStringLiteral("now following master %1").arg(inv.arg(0)));
                 }});
    return v;
}

} // namespace

QStringList Invocation::values(const QString& name) const
{
    QStringList out;
    for (const auto& o : options)
        if (o.first == name)
            out << o.second;
    return out;
}

const std::vector<Verb>& verbs()
{
    static const std::vector<Verb> table = buildVerbs();
    return table;
}

const Verb* findVerb(const QStringList& words, bool* group)
{
    *group = false;
    const QString name = words.join(' ');
    for (const Verb& v : verbs()) {
        if (v.name == name)
            return &v;
        if (words.size() == 1 && v.name.startsWith(name + ' '))
            *group = true;
    }
    return nullptr;
}

QString groupMembers(const QString& group)
{
    QStringList members;
    for (const Verb& v : verbs())
        if (v.name.startsWith(group + ' '))
            members << v.name.mid(group.size() + 1);
    return members.join(QLatin1String(", "));
}

QString usageLine(const Verb* verb)
{
    if (verb)
        return QStringLiteral("usage: ferryctl %1%2 [global flags]   (ferryctl help %1)")
            .arg(verb->name, verb->synopsis.isEmpty() ? QString() : ' ' + verb->synopsis);
    return QStringLiteral("usage: ferryctl [--url URL] [--user USER] [--password PW] [--config FILE] [--vhost V] "
                          "[--json] VERB [ARGS]   (ferryctl --help lists the verbs)");
}

QString overallHelp()
{
    QString out = QStringLiteral(
        "ferryctl: the command-line client of Ferry's admin API.\n\n"
        "usage: ferryctl [global flags] VERB [ARGS] [OPTIONS]\n"
        "       ferryctl help VERB\n\n"
        "global flags (anywhere on the line; precedence: flag > environment > config file > default):\n");
    for (const OptionSpec& o : globalOptions())
        out += QStringLiteral("  --%1\n      %2\n")
                   .arg((o.name + ' ' + o.valueName).trimmed(), o.help);
    out += QStringLiteral("\nverbs:\n");
    for (const Verb& v : verbs())
        out += QStringLiteral("  %1%2\n      %3\n")
                   .arg(v.name, v.synopsis.isEmpty() ? QString() : ' ' + v.synopsis, v.summary);
    out += QStringLiteral(
        "\nenvironment: FERRY_URL, FERRY_USER, FERRY_PASSWORD, FERRYCTL_CONFIG\n"
        "config file: `key = value` lines (keys url, user, password), # comments; default %1\n"
        "exit codes: 0 success, 1 the API refused (or the operation failed), 2 bad usage, 3 broker unreachable\n")
               .arg(defaultConfigPath());
    return out;
}

QString verbHelp(const Verb& verb)
{
    QString out = QStringLiteral("usage: ferryctl %1%2\n\n%3\n\nrequest: %4\n")
                      .arg(verb.name, verb.synopsis.isEmpty() ? QString() : ' ' + verb.synopsis, verb.summary,
                           verb.http);
    if (!verb.options.isEmpty()) {
        out += QStringLiteral("\noptions:\n");
        for (const OptionSpec& o : verb.options)
            out += QStringLiteral("  --%1\n      %2\n").arg((o.name + ' ' + o.valueName).trimmed(), o.help);
    }
    out += QStringLiteral("\nglobal flags: --url URL --user USER --password PW --config FILE --vhost V --json "
                          "(ferryctl --help)\n");
    return out;
}
