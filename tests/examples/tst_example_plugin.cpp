// tst_example_plugin: the example plugin, built by clang from the installed SDK, running in the real ferry-broker.
//
// Starts ferry-broker with its own plugins plus the directory of the clang-built line-protocol module, on a
// temporary data directory, with line.listen on an ephemeral port; talks to it over TCP with the line protocol;
// stops it with SIGTERM (QProcess::terminate) expecting exit code 0; restarts it on the same data directory and
// checks what survived: unacked messages of a durable queue are still there, acked ones are gone, a consumer
// group's committed offset is kept. Also: a malformed line gets ERR and only that connection is closed.
//
// Environment (set by CTest): FERRY_BROKER (the ferry-broker binary), FERRY_DEFAULT_PLUGIN_DIR (the build's
// lib/ferry/plugins/v1), FERRY_EXAMPLE_PLUGIN (the clang-built module, from the examples.sdk_build_example fixture),
// FERRY_STORAGE_PLUGIN (optional: storage.plugin for the broker, when the build lacks the default one).
#include <QByteArray>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QHostAddress>
#include <QList>
#include <QProcess>
#include <QRegularExpression>
#include <QStringList>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

namespace {

constexpr int kStartTimeoutMs = 30000;
constexpr int kReplyTimeoutMs = 10000;

// A line-protocol client over a blocking QTcpSocket.
class LineClient {
public:
    bool connectTo(const QString &host, quint16 port)
    {
        socket_.connectToHost(host, port);
        return socket_.waitForConnected(kReplyTimeoutMs);
    }

    void send(const QByteArray &bytes)
    {
        socket_.write(bytes);
        socket_.waitForBytesWritten(kReplyTimeoutMs);
    }

    // The next line without its "\n", or a null QByteArray on timeout or when the peer closed first.
    QByteArray readLine(int timeoutMs = kReplyTimeoutMs)
    {
        QElapsedTimer timer;
        timer.start();
        for (;;) {
            const qsizetype newline = buffer_.indexOf('\n');
            if (newline >= 0) {
                QByteArray line = buffer_.left(newline);
                buffer_.remove(0, newline + 1);
                return line;
            }
            const qint64 left = timeoutMs - timer.elapsed();
            if (left <= 0 || socket_.state() != QAbstractSocket::ConnectedState)
                return QByteArray();
            if (socket_.waitForReadyRead(int(left)) || socket_.bytesAvailable() > 0)
                buffer_.append(socket_.readAll());
        }
    }

    // Sends one command and returns its reply line.
    QByteArray request(const QByteArray &command)
    {
        send(command + "\n");
        return readLine();
    }

    // True once the peer has closed the connection (within timeoutMs); reads and keeps whatever arrives first.
    bool waitForClose(int timeoutMs = kReplyTimeoutMs)
    {
        QElapsedTimer timer;
        timer.start();
        while (socket_.state() == QAbstractSocket::ConnectedState && timer.elapsed() < timeoutMs) {
            if (socket_.waitForReadyRead(int(timeoutMs - timer.elapsed())))
                buffer_.append(socket_.readAll());
        }
        buffer_.append(socket_.readAll());
        return socket_.state() != QAbstractSocket::ConnectedState;
    }

    bool hasBufferedLine() const { return buffer_.contains('\n'); }

private:
    QTcpSocket socket_;
    QByteArray buffer_;
};

// One parsed "MSG <n> <queue> <offset> <redelivered> <text>" line.
struct MsgLine {
    bool valid = false;
    quint64 number = 0;
    QByteArray queue;
    quint64 offset = 0;
    int redelivered = -1;
    QByteArray text;
};

MsgLine parseMsg(const QByteArray &line)
{
    MsgLine msg;
    const QList<QByteArray> parts = line.split(' ');
    if (parts.size() < 6 || parts[0] != "MSG")
        return msg;
    bool okNumber = false, okOffset = false, okRedelivered = false;
    msg.number = parts[1].toULongLong(&okNumber);
    msg.queue = parts[2];
    msg.offset = parts[3].toULongLong(&okOffset);
    msg.redelivered = parts[4].toInt(&okRedelivered);
    msg.text = line.mid(parts[0].size() + parts[1].size() + parts[2].size() + parts[3].size() + parts[4].size() + 5);
    msg.valid = okNumber && okOffset && okRedelivered && (msg.redelivered == 0 || msg.redelivered == 1);
    return msg;
}

// "OK <n>" -> n; -1 when the line is something else.
qint64 okNumber(const QByteArray &line)
{
    if (!line.startsWith("OK "))
        return -1;
    bool ok = false;
    const qint64 value = line.mid(3).toLongLong(&ok);
    return ok ? value : -1;
}

} // namespace

class TestExamplePlugin : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dataDir_;
    std::unique_ptr<QProcess> broker_;
    QString host_;
    quint16 port_ = 0;
    QByteArray brokerStdout_;

    // Starts ferry-broker and waits for "listening line.listen <host:port>" and "ready" on its stdout.
    bool startBroker(QString *why)
    {
        const QString binary = qEnvironmentVariable("FERRY_BROKER");
        const QString defaultPlugins = qEnvironmentVariable("FERRY_DEFAULT_PLUGIN_DIR");
        const QString example = qEnvironmentVariable("FERRY_EXAMPLE_PLUGIN");
        if (binary.isEmpty() || defaultPlugins.isEmpty() || example.isEmpty()) {
            *why = "FERRY_BROKER, FERRY_DEFAULT_PLUGIN_DIR and FERRY_EXAMPLE_PLUGIN must be set (run through CTest)";
            return false;
        }
        if (!QFileInfo::exists(example)) {
            *why = "the example plugin was not built: " + example;
            return false;
        }
        broker_ = std::make_unique<QProcess>();
        broker_->setProgram(binary);
        QStringList arguments{"--data-dir", dataDir_.path(), "--set", "line.listen=127.0.0.1:0",
                              "--set", "replication.listen=127.0.0.1:0", "--set", "admin.listen=127.0.0.1:0", "--set",
                              "plugins.dirs=" + defaultPlugins + ";" + QFileInfo(example).absolutePath()};
        if (const QString storage = qEnvironmentVariable("FERRY_STORAGE_PLUGIN"); !storage.isEmpty())
            arguments << "--set" << "storage.plugin=" + storage;
        broker_->setArguments(arguments);
        broker_->setProcessChannelMode(QProcess::SeparateChannels);
        broker_->start();
        if (!broker_->waitForStarted(kStartTimeoutMs)) {
            *why = "ferry-broker did not start: " + broker_->errorString();
            return false;
        }
        brokerStdout_.clear();
        port_ = 0;
        bool ready = false;
        const QRegularExpression listening(R"(^listening line\.listen (\S+):(\d+)\s*$)");
        QElapsedTimer timer;
        timer.start();
        QByteArray pending;
        while (!ready && timer.elapsed() < kStartTimeoutMs) {
            if (broker_->state() == QProcess::NotRunning)
                break;
            broker_->waitForReadyRead(200);
            const QByteArray chunk = broker_->readAllStandardOutput();
            brokerStdout_ += chunk;
            pending += chunk;
            qsizetype newline;
            while ((newline = pending.indexOf('\n')) >= 0) {
                const QString line = QString::fromUtf8(pending.left(newline)).trimmed();
                pending.remove(0, newline + 1);
                const QRegularExpressionMatch match = listening.match(line);
                if (match.hasMatch()) {
                    host_ = match.captured(1);
                    port_ = quint16(match.captured(2).toUInt());
                } else if (line == "ready") {
                    ready = true;
                }
            }
        }
        if (!ready || port_ == 0) {
            *why = QString("ferry-broker did not report 'listening line.listen' and 'ready' (state %1)\nstdout:\n%2\n"
                           "stderr:\n%3")
                       .arg(int(broker_->state()))
                       .arg(QString::fromUtf8(brokerStdout_), QString::fromUtf8(broker_->readAllStandardError()));
            return false;
        }
        return true;
    }

    // SIGTERM, then expect a clean exit with code 0.
    bool stopBroker(QString *why)
    {
        broker_->terminate();
        if (!broker_->waitForFinished(kStartTimeoutMs)) {
            broker_->kill();
            broker_->waitForFinished(5000);
            *why = "ferry-broker did not stop within the timeout after SIGTERM";
            return false;
        }
        if (broker_->exitStatus() != QProcess::NormalExit || broker_->exitCode() != 0) {
            *why = QString("ferry-broker stopped with status %1, exit code %2\nstderr:\n%3")
                       .arg(int(broker_->exitStatus()))
                       .arg(broker_->exitCode())
                       .arg(QString::fromUtf8(broker_->readAllStandardError()));
            return false;
        }
        return true;
    }

    // Reads `count` MSG lines.
    QList<MsgLine> readMessages(LineClient &client, int count)
    {
        QList<MsgLine> messages;
        for (int i = 0; i < count; ++i) {
            const QByteArray line = client.readLine();
            const MsgLine msg = parseMsg(line);
            if (!msg.valid) {
                qWarning("expected a MSG line, got '%s'", line.constData());
                break;
            }
            messages.append(msg);
        }
        return messages;
    }

private Q_SLOTS:
    void initTestCase()
    {
#ifdef Q_OS_WIN
        QFAIL("this test stops the broker with SIGTERM (QProcess::terminate), which Windows console programs "
              "do not receive; it is registered on Linux only");
#endif
        QVERIFY(dataDir_.isValid());
    }

    void cleanup()
    {
        if (broker_ && broker_->state() != QProcess::NotRunning) {
            broker_->kill();
            broker_->waitForFinished(5000);
        }
    }

    void survivesRestartAndIsolatesBadConnections()
    {
        QString why;
        QVERIFY2(startBroker(&why), qPrintable(why));

        LineClient client;
        QVERIFY2(client.connectTo(host_, port_), "cannot connect to the line listener");

        // A durable queue consumed by lease, and a durable queue read by cursor.
        QCOMPARE(client.request("DECLARE e2e.jobs durable"), QByteArray("OK 0 0"));
        QCOMPARE(client.request("DECLARE e2e.log durable"), QByteArray("OK 0 0"));
        QList<qint64> offsets;
        for (int i = 1; i <= 5; ++i) {
            const QByteArray reply = client.request("PUB e2e.jobs job-" + QByteArray::number(i));
            QVERIFY2(okNumber(reply) >= 0, reply.constData());
            offsets.append(okNumber(reply));
        }
        for (int i = 1; i < offsets.size(); ++i)
            QCOMPARE(offsets[i], offsets[i - 1] + 1);
        for (int i = 1; i <= 3; ++i)
            QVERIFY(okNumber(client.request("PUB e2e.log entry-" + QByteArray::number(i))) >= 0);

        // Subscribe and receive all five, in order, first delivery.
        const QByteArray subscribed = client.request("SUB e2e.jobs 10");
        QVERIFY2(okNumber(subscribed) > 0, subscribed.constData());
        const QList<MsgLine> first = readMessages(client, 5);
        QCOMPARE(first.size(), 5);
        for (int i = 0; i < 5; ++i) {
            QCOMPARE(first[i].queue, QByteArray("e2e.jobs"));
            QCOMPARE(first[i].text, "job-" + QByteArray::number(i + 1));
            QCOMPARE(qint64(first[i].offset), offsets[i]);
            QCOMPARE(first[i].redelivered, 0);
        }
        // Ack job-1 and job-2; job-3..5 stay unacked.
        QCOMPARE(client.request("ACK " + QByteArray::number(first[0].number)), QByteArray("OK"));
        QCOMPARE(client.request("ACK " + QByteArray::number(first[1].number)), QByteArray("OK"));
        QVERIFY(client.request("ACK " + QByteArray::number(first[1].number)).startsWith("ERR -2 "));

        // Cursor reads: two entries, commit past them, then the rest.
        client.send("PULL e2e.log g1 2\n");
        const QList<MsgLine> pulled = readMessages(client, 2);
        QCOMPARE(pulled.size(), 2);
        QCOMPARE(pulled[0].text, QByteArray("entry-1"));
        QCOMPARE(pulled[1].text, QByteArray("entry-2"));
        QCOMPARE(pulled[0].number, quint64(0));
        const QByteArray end = client.readLine();
        QCOMPARE(end, "END " + QByteArray::number(pulled[1].offset + 1));
        QCOMPARE(client.request("COMMIT e2e.log g1 " + end.mid(4)), QByteArray("OK"));

        // A malformed line: ERR, and that connection (only) is closed.
        LineClient bad;
        QVERIFY(bad.connectTo(host_, port_));
        bad.send(QByteArray("PUB e2e.jobs bad\x01line\n"));
        const QByteArray error = bad.readLine();
        QVERIFY2(error.startsWith("ERR -12 "), error.constData());
        QVERIFY2(bad.waitForClose(), "the broker kept a connection that sent a malformed line");
        QCOMPARE(client.request("DECLARE e2e.side"), QByteArray("OK 0 0"));
        QVERIFY(!client.hasBufferedLine()); // no stray delivery from the bad line's PUB

        QVERIFY2(stopBroker(&why), qPrintable(why));
        QVERIFY(client.waitForClose());

        // Restart on the same data directory.
        QVERIFY2(startBroker(&why), qPrintable(why));
        LineClient again;
        QVERIFY(again.connectTo(host_, port_));
        // job-3..5 are there (unacked when the broker stopped), job-1 and job-2 are gone; the restored queue's
        // count is exact at once (the kernel counts the readable records at restore, kernel/queue/Queue.h).
        QCOMPARE(again.request("DECLARE e2e.jobs durable"), QByteArray("OK 3 0"));
        QVERIFY(okNumber(again.request("SUB e2e.jobs 10")) > 0);
        const QList<MsgLine> survived = readMessages(again, 3);
        QCOMPARE(survived.size(), 3);
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(survived[i].text, "job-" + QByteArray::number(i + 3));
            QCOMPARE(qint64(survived[i].offset), offsets[i + 2]);
            // Delivered but not acked before a graceful stop: back redelivered (the kernel's delivery marks).
            QCOMPARE(survived[i].redelivered, 1);
        }
        QVERIFY2(again.readLine(500).isNull(), "more messages survived than were unacked");
        for (const MsgLine &msg : survived)
            QCOMPARE(again.request("ACK " + QByteArray::number(msg.number)), QByteArray("OK"));
        QCOMPARE(again.request("DECLARE e2e.jobs durable"), QByteArray("OK 0 1")); // nothing left, one consumer

        // The group's committed offset survived too: the next PULL starts at entry-3.
        again.send("PULL e2e.log g1\n");
        const QList<MsgLine> rest = readMessages(again, 1);
        QCOMPARE(rest.size(), 1);
        QCOMPARE(rest[0].text, QByteArray("entry-3"));
        QCOMPARE(again.readLine(), "END " + QByteArray::number(rest[0].offset + 1));

        QCOMPARE(again.request("QUIT"), QByteArray("BYE"));
        QVERIFY(again.waitForClose());
        QVERIFY2(stopBroker(&why), qPrintable(why));
    }
};

QTEST_GUILESS_MAIN(TestExamplePlugin)
#include "tst_example_plugin.moc"
