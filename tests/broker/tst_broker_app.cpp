// tst_broker_app: the real ferry-broker binary, driven through QProcess. Plugins come from the build tree's plugin
// directory (the binary's default), so the storage plugins must be built (the CMake target depends on them); the
// start/stop cases add the echo test plugin (plugins/echo_protocol.c) through plugins.dirs.
// Every listener any loaded protocol plugin declares is moved to 127.0.0.1:0, so runs never touch default ports.
#include "RunningBroker.h"

#include <ferry/ferry_plugin.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

namespace {

constexpr int kCommandTimeoutMs = 30000;

struct Result {
    int exitCode = -1;
    QProcess::ExitStatus exitStatus = QProcess::CrashExit;
    QString out;
    QString err;
    bool finished = false;
};

QProcessEnvironment cleanEnvironment() { return ferry::test::RunningBroker::cleanEnvironment(); }

// Runs ferry-broker to completion (one-shot commands and start-up failures).
Result runBroker(const QStringList &arguments, const QString &workingDirectory = QString(),
                 const QProcessEnvironment &env = cleanEnvironment())
{
    QProcess process;
    process.setProcessEnvironment(env);
    if (!workingDirectory.isEmpty())
        process.setWorkingDirectory(workingDirectory);
    process.start(QStringLiteral(FERRY_BROKER_EXE), arguments);
    Result result;
    if (!process.waitForStarted(kCommandTimeoutMs))
        return result;
    result.finished = process.waitForFinished(kCommandTimeoutMs);
    if (!result.finished) {
        process.kill();
        process.waitForFinished(5000);
    }
    result.exitCode = process.exitCode();
    result.exitStatus = process.exitStatus();
    result.out = QString::fromUtf8(process.readAllStandardOutput());
    result.err = QString::fromUtf8(process.readAllStandardError());
    return result;
}

QString describe(const Result &r)
{
    return QStringLiteral("exit %1 (%2)\n--- stdout\n%3\n--- stderr\n%4")
        .arg(r.exitCode)
        .arg(r.finished ? QStringLiteral("finished") : QStringLiteral("timed out"))
        .arg(r.out, r.err);
}

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(content) == content.size();
}

// What `ferry-broker --list-plugins` reports.
struct PluginList {
    QStringList storagePlugins;
    QStringList protocolPlugins;
    QStringList listenerKeys; // "plugin.key" for every listener key
    QString text;
};

// plugins.dirs naming the real plugin directory and the echo test plugin's directory.
QStringList withEchoPlugin()
{
    return {QStringLiteral("--set"), QStringLiteral("plugins.dirs=" FERRY_PLUGIN_BUILD_DIR ";" FERRY_BROKER_TEST_PLUGIN_DIR)};
}

PluginList listPlugins(const QStringList &extraArguments = {})
{
    PluginList list;
    const Result r = runBroker(QStringList{QStringLiteral("--list-plugins")} + extraArguments);
    list.text = describe(r);
    if (!r.finished || r.exitCode != 0)
        return list;
    bool inTable = true;
    QString section;
    const QRegularExpression sectionHeader(QStringLiteral("^\\[([a-z0-9_-]+)\\]"));
    for (const QString &line : r.out.split(QLatin1Char('\n'))) {
        if (line.isEmpty()) {
            inTable = false;
            continue;
        }
        if (inTable) {
            const QStringList columns = line.split(QLatin1Char(' '), Qt::SkipEmptyParts);
            if (columns.size() >= 2 && columns[1] == QLatin1String("storage"))
                list.storagePlugins << columns[0];
            if (columns.size() >= 2 && columns[1] == QLatin1String("protocol"))
                list.protocolPlugins << columns[0];
            continue;
        }
        if (const QRegularExpressionMatch m = sectionHeader.match(line); m.hasMatch()) {
            section = m.captured(1);
        } else if (!section.isEmpty() && line.contains(QLatin1String("# listener"))) {
            list.listenerKeys << section + QLatin1Char('.') + line.section(QLatin1Char(' '), 0, 0);
        }
    }
    return list;
}

// --set arguments moving every listener to an ephemeral port on the loopback interface.
QStringList loopbackListeners(const PluginList &plugins)
{
    QStringList arguments;
    for (const QString &key : plugins.listenerKeys)
        arguments << QStringLiteral("--set") << key + QStringLiteral("=127.0.0.1:0");
    arguments << QStringLiteral("--set") << QStringLiteral("replication.listen=127.0.0.1:0");
    arguments << QStringLiteral("--set") << QStringLiteral("admin.listen=127.0.0.1:0");
    return arguments;
}

// A running broker of this build (tests/support/RunningBroker.h).
class RunningBroker : public ferry::test::RunningBroker {
public:
    RunningBroker() : ferry::test::RunningBroker(QStringLiteral(FERRY_BROKER_EXE)) {}
};

QString readText(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QString();
    return QString::fromUtf8(file.readAll());
}

} // namespace

class TestBrokerApp : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(QFile::exists(QStringLiteral(FERRY_BROKER_EXE)), FERRY_BROKER_EXE);
        plugins_ = listPlugins();
        QVERIFY2(plugins_.storagePlugins.contains(QLatin1String("file")), qPrintable(plugins_.text));
        withEcho_ = listPlugins(withEchoPlugin());
        QVERIFY2(withEcho_.protocolPlugins.contains(QLatin1String("echo")), qPrintable(withEcho_.text));
        QVERIFY2(withEcho_.listenerKeys.contains(QLatin1String("echo.listen")) &&
                     withEcho_.listenerKeys.contains(QLatin1String("echo.admin_listen")),
                 qPrintable(withEcho_.text));
    }

    void printsVersion()
    {
        const Result r = runBroker({QStringLiteral("--version")});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        const QString expected = QStringLiteral("ferry-broker %1 (plugin ABI %2.%3)")
                                     .arg(QStringLiteral(FERRY_VERSION))
                                     .arg(FERRY_ABI_MAJOR)
                                     .arg(FERRY_ABI_MINOR);
        QCOMPARE(r.out.trimmed(), expected);
    }

    void printsHelp()
    {
        const Result r = runBroker({QStringLiteral("--help")});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        for (const char *option : {"-h, --help", "--config", "--set", "--data-dir", "--version", "--list-plugins",
                                   "--check-config", "--replication-status", "--replication-address", "--reconcile",
                                   "--promote", "--role", "--repoint", "--force", "--follow", "--admin-user",
                                   "--admin-password", "--service", "--install-service", "--uninstall-service"})
            QVERIFY2(r.out.contains(QLatin1String(option)), option);
        QVERIFY2(!r.out.contains(QLatin1String("--help-all")), qPrintable(r.out));

        const Result shortForm = runBroker({QStringLiteral("-h")});
        QVERIFY2(shortForm.finished && shortForm.exitCode == 0, qPrintable(describe(shortForm)));
        QCOMPARE(shortForm.out, r.out);
        // An option --help does not list is a usage error, never ignored.
        const Result helpAll = runBroker({QStringLiteral("--help-all")});
        QVERIFY2(helpAll.finished && helpAll.exitCode == 2, qPrintable(describe(helpAll)));
    }

    void refusesBadCommandLines()
    {
        Result r = runBroker({QStringLiteral("--no-such-option")});
        QVERIFY2(r.finished && r.exitCode == 2, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("no-such-option")), qPrintable(describe(r)));

        r = runBroker({QStringLiteral("stray-argument")});
        QVERIFY2(r.finished && r.exitCode == 2, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("stray-argument")), qPrintable(describe(r)));

        r = runBroker({QStringLiteral("--set"), QStringLiteral("nodot=1"), QStringLiteral("--check-config")});
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("--set 'nodot=1'")), qPrintable(describe(r)));
    }

#ifndef Q_OS_WIN
    // --service, --install-service and --uninstall-service are Windows-only: elsewhere a usage error naming the flag,
    // before anything is read or written. Not built on Windows, where they would talk to the real Service Control
    // Manager (docs/building-on-windows.md lists what a Windows build must check by hand).
    void refusesWindowsServiceFlagsElsewhere()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString dataDir = dir.filePath(QStringLiteral("data"));
        for (const QString &flag :
             {QStringLiteral("--service"), QStringLiteral("--install-service"), QStringLiteral("--uninstall-service")}) {
            const Result r = runBroker({flag, QStringLiteral("--data-dir"), dataDir});
            QVERIFY2(r.finished && r.exitCode == 2, qPrintable(flag + QLatin1Char('\n') + describe(r)));
            QVERIFY2(r.err.contains(flag + QStringLiteral(": Windows services exist only on Windows")),
                     qPrintable(describe(r)));
            QVERIFY2(r.out.isEmpty(), qPrintable(describe(r)));
            QVERIFY2(!QFileInfo::exists(dataDir), qPrintable(flag + QStringLiteral(" created the data directory")));
        }
    }
#endif

    void listsPlugins()
    {
        const Result r = runBroker({QStringLiteral("--list-plugins")});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        const QStringList lines = r.out.split(QLatin1Char('\n'));
        QVERIFY2(lines.value(0).startsWith(QLatin1String("NAME")) && lines.value(0).contains(QLatin1String("KIND")) &&
                     lines.value(0).contains(QLatin1String("VERSION")) &&
                     lines.value(0).contains(QLatin1String("ABI")) && lines.value(0).contains(QLatin1String("FILE")),
                 qPrintable(describe(r)));
        const QString abi = QStringLiteral("%1.%2").arg(FERRY_ABI_MAJOR).arg(FERRY_ABI_MINOR);
        for (const char *name : {"file", "sqlite"}) {
            const QRegularExpression row(QStringLiteral("^%1 +storage +\\S+ +%2 +\\S+").arg(QLatin1String(name), abi),
                                         QRegularExpression::MultilineOption);
            QVERIFY2(row.match(r.out).hasMatch(), qPrintable(QStringLiteral("no row for %1\n").arg(name) + describe(r)));
            QVERIFY2(r.out.contains(QStringLiteral("\n[%1]").arg(QLatin1String(name))), qPrintable(describe(r)));
        }
        QVERIFY2(!r.out.contains(QLatin1String("ready")), qPrintable(describe(r)));

        // An empty plugin directory: nothing loads, still exit 0.
        QTemporaryDir emptyDir;
        QVERIFY(emptyDir.isValid());
        const Result none = runBroker(
            {QStringLiteral("--list-plugins"), QStringLiteral("--set"), QStringLiteral("plugins.dirs=") + emptyDir.path()});
        QVERIFY2(none.finished && none.exitCode == 0, qPrintable(describe(none)));
        QVERIFY2(none.out.contains(QLatin1String("(no plugins loaded)")), qPrintable(describe(none)));
    }

    void listsRefusedFiles()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QVERIFY(writeFile(dir.filePath(QStringLiteral("not-a-plugin.so")), "just text\n"));
        const Result r = runBroker(
            {QStringLiteral("--list-plugins"), QStringLiteral("--set"), QStringLiteral("plugins.dirs=") + dir.path()});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        QVERIFY2(r.out.contains(QLatin1String("refused:")), qPrintable(describe(r)));
        QVERIFY2(r.out.contains(QLatin1String("not-a-plugin.so: ")), qPrintable(describe(r)));
    }

    void checksTheDefaultAndPackagedConfig()
    {
        Result r = runBroker({QStringLiteral("--check-config")});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        QCOMPARE(r.out.trimmed(), QStringLiteral("config ok"));

        r = runBroker({QStringLiteral("--config"), QStringLiteral(FERRY_PACKAGED_CONFIG), QStringLiteral("--check-config")});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        QCOMPARE(r.out.trimmed(), QStringLiteral("config ok"));
    }

    void badKeyInFileExitsNaming()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString config = dir.filePath(QStringLiteral("bad.conf"));
        QVERIFY(writeFile(config, "[storage]\nflush = sync\nflsh = async\n"));
        const Result r = runBroker({QStringLiteral("--config"), config, QStringLiteral("--data-dir"),
                                    dir.filePath(QStringLiteral("data"))});
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("config: storage.flsh: unknown key (") + config + QLatin1String(":3)")),
                 qPrintable(describe(r)));
        QVERIFY2(!r.out.contains(QLatin1String("ready")), qPrintable(describe(r)));
        // Config errors stop the broker before it touches the data directory.
        QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("data"))));
    }

    void badValueExitsNaming()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const Result r = runBroker({QStringLiteral("--set"), QStringLiteral("storage.flush=fast"),
                                    QStringLiteral("--data-dir"), dir.filePath(QStringLiteral("data"))});
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("config: storage.flush: expected sync or async, got 'fast' (--set)")),
                 qPrintable(describe(r)));
    }

    void pluginSectionsAreValidated()
    {
        // A section for a plugin that is not loaded.
        Result r = runBroker({QStringLiteral("--set"), QStringLiteral("nosuchplugin.listen=127.0.0.1:0"),
                              QStringLiteral("--check-config")});
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("nosuchplugin.listen: unknown section [nosuchplugin]")),
                 qPrintable(describe(r)));

        // ... is accepted when that plugin is listed in plugins.disabled.
        r = runBroker({QStringLiteral("--set"), QStringLiteral("nosuchplugin.listen=127.0.0.1:0"),
                       QStringLiteral("--set"), QStringLiteral("plugins.disabled=nosuchplugin"),
                       QStringLiteral("--check-config")});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        QCOMPARE(r.out.trimmed(), QStringLiteral("config ok"));

        // A key the loaded plugin does not declare.
        r = runBroker({QStringLiteral("--set"), QStringLiteral("file.no_such_key=1"), QStringLiteral("--check-config")});
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("config: file.no_such_key: unknown key (--set)")), qPrintable(describe(r)));

        // storage.plugin must name a loaded storage plugin.
        r = runBroker({QStringLiteral("--set"), QStringLiteral("storage.plugin=nosuchstore"), QStringLiteral("--check-config")});
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("config: storage.plugin: 'nosuchstore' is not loaded (--set)")),
                 qPrintable(describe(r)));
    }

    void readsTheConfigNamedByTheEnvironment()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString bad = dir.filePath(QStringLiteral("bad.conf"));
        const QString good = dir.filePath(QStringLiteral("good.conf"));
        QVERIFY(writeFile(bad, "[network]\nio_threads = 0\n"));
        QVERIFY(writeFile(good, "[network]\nio_threads = 3\n"));
        QProcessEnvironment env = cleanEnvironment();
        env.insert(QStringLiteral("FERRY_CONFIG"), bad);

        Result r = runBroker({QStringLiteral("--check-config")}, QString(), env);
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("config: network.io_threads: expected a whole number from 1 to 64, "
                                              "got '0' (") + bad + QLatin1String(":2)")),
                 qPrintable(describe(r)));

        // --config wins over FERRY_CONFIG; --set wins over the file.
        r = runBroker({QStringLiteral("--config"), good, QStringLiteral("--check-config")}, QString(), env);
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
        env.insert(QStringLiteral("FERRY_CONFIG"), bad);
        r = runBroker({QStringLiteral("--set"), QStringLiteral("network.io_threads=4"), QStringLiteral("--check-config")},
                      QString(), env);
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(describe(r)));
    }

    void unusableDataDirectoryFails()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString file = dir.filePath(QStringLiteral("plain-file"));
        QVERIFY(writeFile(file, "x"));
        const Result r = runBroker({QStringLiteral("--data-dir"), file + QStringLiteral("/data")});
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        QVERIFY2(r.err.contains(QLatin1String("cannot create data directory")), qPrintable(describe(r)));
    }

    void startsAndStopsOnSigterm_data()
    {
        QTest::addColumn<QString>("storage");
        QTest::addColumn<bool>("explicitDataDir");
        QTest::newRow("file, --data-dir") << QStringLiteral("file") << true;
        QTest::newRow("file, default data dir") << QStringLiteral("file") << false;
        QTest::newRow("sqlite") << QStringLiteral("sqlite") << true;
    }

    void startsAndStopsOnSigterm()
    {
        QFETCH(QString, storage);
        QFETCH(bool, explicitDataDir);
        QVERIFY2(withEcho_.storagePlugins.contains(storage), qPrintable(withEcho_.text));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());

        // Every listener on 127.0.0.1:0, then echo.admin_listen emptied again (a later --set wins): it must stay off.
        QStringList arguments = withEchoPlugin() + loopbackListeners(withEcho_);
        arguments << QStringLiteral("--set") << QStringLiteral("echo.admin_listen=") << QStringLiteral("--set")
                  << QStringLiteral("echo.greeting=hi there") << QStringLiteral("--set")
                  << QStringLiteral("storage.plugin=") + storage << QStringLiteral("--set")
                  << QStringLiteral("log.level=debug");
        QString dataDir = dir.filePath(QStringLiteral("data")); // broker.data_dir's default, relative to the cwd
        if (explicitDataDir) {
            dataDir = dir.filePath(QStringLiteral("elsewhere"));
            arguments << QStringLiteral("--data-dir") << dataDir;
        }

        RunningBroker broker;
        QVERIFY2(broker.start(arguments, dir.path()), qPrintable(broker.describe()));

        // One listening line per open listener, each on a real loopback port that accepts connections.
        const QMap<QString, QString> listeners = broker.listeners();
        QStringList expectedKeys = withEcho_.listenerKeys;
        expectedKeys.removeAll(QStringLiteral("echo.admin_listen"));
        expectedKeys << QStringLiteral("replication.listen") << QStringLiteral("admin.listen"); // the kernel's own
        expectedKeys.sort();
        QCOMPARE(listeners.keys(), expectedKeys);
        for (auto it = listeners.begin(); it != listeners.end(); ++it) {
            const QString host = it.value().section(QLatin1Char(':'), 0, -2);
            const int port = it.value().section(QLatin1Char(':'), -1).toInt();
            QCOMPARE(host, QStringLiteral("127.0.0.1"));
            QVERIFY2(port > 0, qPrintable(it.value()));
            QTcpSocket socket;
            socket.connectToHost(QHostAddress(host), quint16(port));
            QVERIFY2(socket.waitForConnected(5000), qPrintable(it.key() + QLatin1Char(' ') + socket.errorString()));
            if (it.key() == QLatin1String("echo.listen")) {
                // The plugin read its own config section through the kernel.
                QByteArray received;
                while (!received.endsWith('\n') && socket.waitForReadyRead(5000))
                    received += socket.readAll();
                QCOMPARE(received, QByteArray("hi there\n"));
                socket.write("ping");
                received.clear();
                while (received.size() < 4 && socket.waitForReadyRead(5000))
                    received += socket.readAll();
                QCOMPARE(received, QByteArray("ping"));
            }
            socket.abort();
        }

        QVERIFY2(broker.terminate(), qPrintable(broker.describe()));
        QVERIFY2(broker.exitStatus() == QProcess::NormalExit && broker.exitCode() == 0, qPrintable(broker.describe()));

        const QString logFile = dataDir + QStringLiteral("/logs/ferry.log");
        QVERIFY2(QFileInfo::exists(logFile), qPrintable(logFile));
        const QString log = readText(logFile);
        QVERIFY2(log.contains(QLatin1String("[kernel] ferry-broker ")), qPrintable(log));
        QVERIFY2(log.contains(QLatin1String("[kernel] ready")), qPrintable(log));
        QVERIFY2(log.contains(QLatin1String("[kernel] SIGTERM received, stopping")) ||
                     log.contains(QLatin1String("[kernel] CTRL_CLOSE_EVENT received, stopping")),
                 qPrintable(log));
        QVERIFY2(log.contains(QLatin1String("[kernel] stopped")), qPrintable(log));
        // A plugin's lines carry its own name (the echo plugin logs from init and shutdown).
        QVERIFY2(log.contains(QLatin1String("info  [echo] echo protocol initialised, greeting 'hi there'")),
                 qPrintable(log));
        QVERIFY2(log.contains(QLatin1String("info  [echo] echo protocol shut down")), qPrintable(log));
        // Nothing at error level during a clean run.
        QVERIFY2(!QRegularExpression(QStringLiteral("^\\S+ \\S+ error "), QRegularExpression::MultilineOption)
                      .match(log)
                      .hasMatch(),
                 qPrintable(log));
    }

    void listenerConflictFailsWithOneLine()
    {
        QTcpServer occupied;
        QVERIFY(occupied.listen(QHostAddress::LocalHost, 0));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QStringList arguments = withEchoPlugin() + loopbackListeners(withEcho_);
        arguments << QStringLiteral("--set") << QStringLiteral("echo.listen=127.0.0.1:") + QString::number(occupied.serverPort())
                  << QStringLiteral("--data-dir") << dir.filePath(QStringLiteral("data"));
        const Result r = runBroker(arguments);
        QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
        const QStringList startErrors = r.err.split(QLatin1Char('\n')).filter(QLatin1String("cannot start: "));
        QCOMPARE(startErrors.size(), 1);
        QVERIFY2(startErrors.front().contains(QLatin1String("echo.listen")), qPrintable(describe(r)));
        QVERIFY2(!r.out.contains(QLatin1String("ready")), qPrintable(describe(r)));
    }

    void disabledProtocolPluginOpensNoListener()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // Its section may stay in the config (not checked), and its listeners stay closed.
        QStringList arguments = withEchoPlugin() + loopbackListeners(withEcho_);
        arguments << QStringLiteral("--set") << QStringLiteral("plugins.disabled=echo") << QStringLiteral("--set")
                  << QStringLiteral("echo.no_such_key=1") << QStringLiteral("--data-dir")
                  << dir.filePath(QStringLiteral("data"));
        RunningBroker broker;
        QVERIFY2(broker.start(arguments), qPrintable(broker.describe()));
        const QStringList keys = broker.listeners().keys();
        QVERIFY2(keys.filter(QRegularExpression(QStringLiteral("^echo\\."))).isEmpty(), qPrintable(keys.join(QLatin1Char(' '))));
        QVERIFY2(broker.terminate(), qPrintable(broker.describe()));
        QCOMPARE(broker.exitCode(), 0);
    }

private:
    PluginList plugins_;  // default plugin directories
    PluginList withEcho_; // plus the echo test plugin
};

QTEST_GUILESS_MAIN(TestBrokerApp)
#include "tst_broker_app.moc"
