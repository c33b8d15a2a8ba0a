// RunningBroker: the real ferry-broker binary for C++ tests (Qt Test), driven through QProcess: started with the
// caller's arguments, waited for its `ready` line, stopped with terminate() (SIGTERM on POSIX, WM_CLOSE on Windows)
// or killed when the object goes. listeners() reads the `listening <key> <host:port>` lines it printed.
// Threading: the test's thread only. Header-only, Qt Core.
#pragma once

#include <QElapsedTimer>
#include <QMap>
#include <QProcess>
#include <QRegularExpression>
#include <QString>
#include <QStringList>

namespace ferry::test {

class RunningBroker {
public:
    static constexpr int kTimeoutMs = 30000;

    // The environment without FERRY_CONFIG, so a developer's config never leaks into a test.
    static QProcessEnvironment cleanEnvironment()
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("FERRY_CONFIG"));
        return env;
    }

    // Arguments for a broker in dataDir with every listener on a loopback ephemeral port (protocols listed in
    // `off` get none), logging to its file only; `extra` (--set pairs) goes last.
    static QStringList loopbackArguments(const QString &dataDir, const QStringList &extra = {},
                                         const QStringList &off = {})
    {
        QStringList args{QStringLiteral("--data-dir"), dataDir, QStringLiteral("--set"), QStringLiteral("log.console=false")};
        for (const char *key : {"amqp.listen", "rocket.namesrv_listen", "rocket.broker_listen", "replication.listen",
                                "admin.listen"}) {
            const QString k = QString::fromLatin1(key);
            args << QStringLiteral("--set") << k + (off.contains(k) ? QStringLiteral("=") : QStringLiteral("=127.0.0.1:0"));
        }
        return args + extra;
    }

    explicit RunningBroker(QString binary) : binary_(std::move(binary)) {}
    RunningBroker(const RunningBroker &) = delete;
    RunningBroker &operator=(const RunningBroker &) = delete;

    ~RunningBroker()
    {
        if (process_.state() != QProcess::NotRunning) {
            process_.kill();
            process_.waitForFinished(5000);
        }
    }

    // true once the broker printed `ready`; false when it exited or did not within kTimeoutMs.
    bool start(const QStringList &arguments, const QString &workingDirectory = QString())
    {
        process_.setProcessEnvironment(cleanEnvironment());
        if (!workingDirectory.isEmpty())
            process_.setWorkingDirectory(workingDirectory);
        process_.start(binary_, arguments);
        if (!process_.waitForStarted(kTimeoutMs))
            return false;
        QElapsedTimer timer;
        timer.start();
        while (!out_.contains(QLatin1String("\nready\n")) && !out_.startsWith(QLatin1String("ready\n"))) {
            if (process_.state() == QProcess::NotRunning || timer.elapsed() > kTimeoutMs)
                return false;
            process_.waitForReadyRead(100);
            out_ += QString::fromUtf8(process_.readAllStandardOutput());
        }
        return true;
    }

    // Asks the broker to stop and waits for its exit; false when it had to be killed.
    bool terminate()
    {
        process_.terminate();
        const bool finished = process_.waitForFinished(kTimeoutMs);
        out_ += QString::fromUtf8(process_.readAllStandardOutput());
        if (!finished) {
            process_.kill();
            process_.waitForFinished(5000);
        }
        return finished;
    }

    QString out() const { return out_; }
    QString err() { return err_ += QString::fromUtf8(process_.readAllStandardError()); }
    QString describe() { return QStringLiteral("--- stdout\n%1\n--- stderr\n%2").arg(out(), err()); }
    int exitCode() const { return process_.exitCode(); }
    QProcess::ExitStatus exitStatus() const { return process_.exitStatus(); }

    // The `listening <key> <host:port>` lines, as key -> address.
    QMap<QString, QString> listeners() const
    {
        QMap<QString, QString> found;
        const QRegularExpression line(QStringLiteral("^listening (\\S+) (\\S+)$"), QRegularExpression::MultilineOption);
        for (auto it = line.globalMatch(out_); it.hasNext();) {
            const QRegularExpressionMatch m = it.next();
            found.insert(m.captured(1), m.captured(2));
        }
        return found;
    }

private:
    QString binary_;
    QProcess process_;
    QString out_;
    QString err_;
};

} // namespace ferry::test
