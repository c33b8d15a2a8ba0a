#include "AdminClient.h"

#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrl>

bool Reply::isJson() const
{
    return contentType.startsWith("application/json");
}

QJsonValue Reply::json() const
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError)
        return QJsonValue();
    if (doc.isArray())
        return doc.array();
    if (doc.isObject())
        return doc.object();
    return QJsonValue();
}

AdminClient::AdminClient(QString baseUrl, QString user, QString password, int timeoutMs)
    : base_(std::move(baseUrl)), timeoutMs_(timeoutMs)
{
    while (base_.endsWith('/'))
        base_.chop(1);
    // Sent up front on every request: a 401 is an answer to report, not a prompt for credentials.
    authorization_ = "Basic " + (user + ':' + password).toUtf8().toBase64();
}

QString AdminClient::segment(const QString& value)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(value));
}

ApiError AdminClient::errorOf(const Reply& reply)
{
    ApiError e;
    e.status = reply.status;
    const QJsonValue body = reply.json();
    if (body.isObject() && body.toObject().value("error").isString()) {
        e.error = body.toObject().value("error").toString();
        e.reason = body.toObject().value("reason").toString();
        return e;
    }
    e.error = reply.reasonPhrase.isEmpty() ? QStringLiteral("error") : QString::fromUtf8(reply.reasonPhrase);
    e.reason = QString::fromUtf8(reply.body.left(200)).simplified();
    if (e.reason.isEmpty())
        e.reason = QStringLiteral("(no body)");
    return e;
}

Reply AdminClient::send(const QByteArray& method, const QString& pathAndQuery, const QByteArray& body,
                        const QByteArray& contentType)
{
    const QUrl url = QUrl::fromEncoded((base_ + pathAndQuery).toUtf8(), QUrl::StrictMode);
    const QString scheme = url.scheme().toLower();
    if (!url.isValid() || url.host().isEmpty())
        throw Unreachable{base_, QStringLiteral("not a valid URL (expected http://HOST:PORT)")};
    if (scheme != QLatin1String("http") && scheme != QLatin1String("https"))
        throw Unreachable{base_, QStringLiteral("unsupported scheme '%1' (expected http or https)").arg(url.scheme())};

    QNetworkRequest request(url);
    request.setRawHeader("Authorization", authorization_);
    request.setRawHeader("Accept", "application/json, text/plain;q=0.9, */*;q=0.5");
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
    request.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);

    QNetworkReply* reply = manager_.sendCustomRequest(request, method, body);
    QEventLoop loop;
    QTimer timer;
    timer.setSingleShot(true);
    bool timedOut = false;
    QObject::connect(&timer, &QTimer::timeout, &loop, [&] {
        timedOut = true;
        reply->abort();
    });
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    timer.start(timeoutMs_);
    if (!reply->isFinished())
        loop.exec();
    timer.stop();

    const QVariant status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (timedOut || !status.isValid()) {
        const QString reason = timedOut ? QStringLiteral("no answer within %1 s").arg(timeoutMs_ / 1000)
                                        : reply->errorString();
        reply->deleteLater();
        throw Unreachable{base_, reason};
    }
    Reply r;
    r.status = status.toInt();
    r.body = reply->readAll();
    r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray().toLower();
    r.reasonPhrase = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray();
    reply->deleteLater();
    return r;
}

Reply AdminClient::call(const QByteArray& method, const QString& pathAndQuery, const QByteArray& body,
                        const QByteArray& contentType)
{
    Reply r = send(method, pathAndQuery, body, contentType);
    if (!r.ok())
        throw errorOf(r);
    return r;
}
