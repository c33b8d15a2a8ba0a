#pragma once
// AdminClient: one HTTP request to the admin API (docs/admin-api.md), synchronous, for a command-line program.
// It needs a QCoreApplication (it runs a local event loop until the answer).

#include <QByteArray>
#include <QJsonValue>
#include <QNetworkAccessManager>
#include <QString>

// An answer, whatever its status.
struct Reply {
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QByteArray reasonPhrase; // the status line's, e.g. "Not Found"

    bool ok() const { return status >= 200 && status < 300; }
    bool isJson() const;
    QJsonValue json() const; // the body parsed; null when it is empty or not JSON
};

// A non-2xx answer, with the API's {"error","reason"} body (or the HTTP reason phrase and the body's start when the
// body is not that JSON). Exit code 1.
struct ApiError {
    int status = 0;
    QString error;
    QString reason;
};

// No HTTP answer at all: bad URL, connection refused, name not resolved, TLS failure, timeout. Exit code 3.
struct Unreachable {
    QString url;
    QString reason;
};

class AdminClient {
public:
    // baseUrl: scheme://host[:port][/prefix]; every request path is appended to it. Credentials go in a Basic
    // Authorization header on every request (the API never answers anonymous ones).
    AdminClient(QString baseUrl, QString user, QString password, int timeoutMs = 10000);

    const QString& baseUrl() const { return base_; }

    // Sends one request. `pathAndQuery` starts with '/' and is already percent-encoded (see segment()); a non-empty
    // body is sent as application/json unless contentType says otherwise. Returns any HTTP answer; throws
    // Unreachable when there is none within the timeout.
    Reply send(const QByteArray& method, const QString& pathAndQuery, const QByteArray& body = {},
               const QByteArray& contentType = "application/json");

    // send(), and throws ApiError for a non-2xx answer.
    Reply call(const QByteArray& method, const QString& pathAndQuery, const QByteArray& body = {},
               const QByteArray& contentType = "application/json");

    // One path segment, percent-encoded (every byte but RFC 3986's unreserved ones): "/" -> "%2F".
    static QString segment(const QString& value);

    // The ApiError of a non-2xx answer.
    static ApiError errorOf(const Reply& reply);

private:
    QString base_;
    QByteArray authorization_;
    int timeoutMs_;
    QNetworkAccessManager manager_;
};
