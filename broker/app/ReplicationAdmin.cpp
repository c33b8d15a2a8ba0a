#include "ReplicationAdmin.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QThread>

namespace ferry::app {

namespace {

constexpr int kIoTimeoutMs = 5000;

bool statusOf(const std::string &address, QJsonObject *out, std::string *error)
{
    std::string reply;
    if (!replicationRequest(address, {"status", {}, {}, {}}, &reply, error))
        return false;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(reply));
    if (!doc.isObject()) {
        *error = address + " answered 'status' with something that is not a JSON object";
        return false;
    }
    *out = doc.object();
    return true;
}

std::string text(const QJsonValue &v) { return v.toString().toStdString(); }

} // namespace

bool replicationRequest(const std::string &address, const repl::AdminRequest &request, std::string *reply,
                        std::string *error)
{
    const size_t colon = address.rfind(':');
    bool portOk = false;
    const uint port = colon == std::string::npos ? 0 : QString::fromStdString(address.substr(colon + 1)).toUInt(&portOk);
    if (colon == std::string::npos || !portOk || port == 0 || port > 65535) {
        *error = "'" + address + "' is not host:port";
        return false;
    }
    QTcpSocket socket;
    socket.connectToHost(QString::fromStdString(address.substr(0, colon)), static_cast<quint16>(port));
    if (!socket.waitForConnected(kIoTimeoutMs)) {
        *error = "cannot connect to " + address + ": " + socket.errorString().toStdString();
        return false;
    }
    std::string out;
    repl::encodeAdmin(request, out);
    socket.write(out.data(), static_cast<qint64>(out.size()));
    std::string in;
    for (;;) {
        repl::FrameReader reader(reinterpret_cast<const uint8_t *>(in.data()), in.size());
        if (auto frame = reader.next()) {
            repl::AdminReply r;
            std::string why;
            if (frame->type == repl::FrameType::Error) {
                repl::ErrorFrame e;
                *error = address + " refused: " + (repl::decodeError(frame->payload, &e, &why) ? e.text : why);
                return false;
            }
            if (frame->type != repl::FrameType::AdminReply || !repl::decodeAdminReply(frame->payload, &r, &why)) {
                *error = "unexpected answer from " + address + (why.empty() ? "" : ": " + why);
                return false;
            }
            if (r.status != FERRY_OK) {
                *error = r.text + " (status " + std::to_string(r.status) + ")";
                return false;
            }
            *reply = r.text;
            return true;
        }
        if (!reader.error().empty()) {
            *error = "malformed answer from " + address + ": " + reader.error();
            return false;
        }
        if (!socket.waitForReadyRead(kIoTimeoutMs)) {
            *error = "no answer from " + address + " within " + std::to_string(kIoTimeoutMs / 1000) + " s";
            return false;
        }
        const QByteArray chunk = socket.readAll();
        in.append(chunk.constData(), static_cast<size_t>(chunk.size()));
    }
}

bool promoteSlave(const PromoteOptions &o, std::string *summary, std::string *error)
{
    // 1. Who is who.
    QJsonObject target;
    if (!statusOf(o.target, &target, error))
        return false;
    if (text(target["role"]) != "SLAVE") {
        *error = o.target + " is " + text(target["role"]) + ", not a SLAVE: there is nothing to promote";
        return false;
    }
    const QJsonObject targetMaster = target["master"].toObject();
    for (const std::string &address : o.repoint) {
        QJsonObject other;
        if (!statusOf(address, &other, error))
            return false;
        if (text(other["role"]) != "SLAVE" || text(other["brokerName"]) != text(target["brokerName"])) {
            *error = address + " is " + text(other["role"]) + " of broker.name '" + text(other["brokerName"]) +
                     "', not a SLAVE of '" + text(target["brokerName"]) + "'";
            return false;
        }
        const QJsonObject m = other["master"].toObject();
        if (!o.force && text(m["epoch"]) == text(targetMaster["epoch"]) &&
            m["appliedSeq"].toInteger() > targetMaster["appliedSeq"].toInteger()) {
            *error = "slave " + address + " applied more of the old master's changes (seq " +
                     std::to_string(m["appliedSeq"].toInteger()) + ") than " + o.target + " (seq " +
                     std::to_string(targetMaster["appliedSeq"].toInteger()) +
                     "): it would be refused as diverged. Promote " + address + " instead, or add --force";
            return false;
        }
    }

    // 2. Promote and wait for the restart.
    std::string reply;
    if (!replicationRequest(o.target, {"promote", o.role + (o.force ? " force" : ""), o.user, o.password}, &reply,
                            error)) {
        *error = "promote " + o.target + ": " + *error;
        return false;
    }
    QElapsedTimer clock;
    clock.start();
    std::string lastError;
    for (;;) {
        QJsonObject now;
        if (statusOf(o.target, &now, &lastError) && text(now["role"]) == o.role)
            break;
        if (clock.elapsed() > o.restartTimeoutMs) {
            *error = o.target + " did not come back as " + o.role + " within " +
                     std::to_string(o.restartTimeoutMs / 1000) + " s" + (lastError.empty() ? "" : ": " + lastError);
            return false;
        }
        QThread::msleep(200);
    }

    // 3. Re-point the others.
    QJsonArray repointed;
    for (const std::string &address : o.repoint) {
        if (!replicationRequest(address, {"follow", o.target, o.user, o.password}, &reply, error)) {
            *error = o.target + " is promoted, but re-pointing " + address + " failed: " + *error;
            return false;
        }
        repointed.append(QString::fromStdString(address));
    }
    *summary = QJsonDocument(QJsonObject{{"promoted", QString::fromStdString(o.target)},
                                         {"role", QString::fromStdString(o.role)},
                                         {"repointed", repointed}})
                   .toJson(QJsonDocument::Compact)
                   .toStdString();
    return true;
}

} // namespace ferry::app
