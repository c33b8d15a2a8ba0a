// tst_windows_command_line: platform::windowsCommandLine, the command line --install-service stores for the Windows
// service. Pure string work, so it runs on every platform; the expected strings follow the MSVC runtime's and
// CommandLineToArgvW's splitting rules (backslashes are literal unless they precede a quote).
#include "platform/WindowsService.h"

#include <QtTest>

#include <string>
#include <vector>

class TestWindowsCommandLine : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void quotesOnlyWhatNeedsQuoting_data()
    {
        QTest::addColumn<QString>("argument");
        QTest::addColumn<QString>("expected");
        QTest::newRow("plain") << QStringLiteral("--service") << QStringLiteral("--service");
        QTest::newRow("backslashes without quotes stay") << QStringLiteral("C:\\ProgramData\\Ferry")
                                                         << QStringLiteral("C:\\ProgramData\\Ferry");
        QTest::newRow("space") << QStringLiteral("C:\\Program Files\\Ferry\\etc\\ferry\\ferry.conf")
                               << QStringLiteral("\"C:\\Program Files\\Ferry\\etc\\ferry\\ferry.conf\"");
        QTest::newRow("trailing backslash inside quotes is doubled") << QStringLiteral("C:\\My Data\\")
                                                                     << QStringLiteral("\"C:\\My Data\\\\\"");
        QTest::newRow("quote") << QStringLiteral("log.file=a\"b") << QStringLiteral("\"log.file=a\\\"b\"");
        QTest::newRow("backslashes before a quote") << QStringLiteral("a\\\\\"b")
                                                    << QStringLiteral("\"a\\\\\\\\\\\"b\"");
        QTest::newRow("tab") << QStringLiteral("a\tb") << QStringLiteral("\"a\tb\"");
        QTest::newRow("empty") << QString() << QStringLiteral("\"\"");
    }

    void quotesOnlyWhatNeedsQuoting()
    {
        QFETCH(QString, argument);
        QFETCH(QString, expected);
        const std::string line = ferry::platform::windowsCommandLine("C:\\ferry-broker.exe", {argument.toStdString()});
        QCOMPARE(QString::fromStdString(line), QStringLiteral("\"C:\\ferry-broker.exe\" ") + expected);
    }

    void alwaysQuotesTheProgram()
    {
        const std::vector<std::string> arguments = {"--service", "--config", "C:\\Program Files\\Ferry\\ferry.conf"};
        QCOMPARE(QString::fromStdString(
                     ferry::platform::windowsCommandLine("C:\\Program Files\\Ferry\\bin\\ferry-broker.exe", arguments)),
                 QStringLiteral("\"C:\\Program Files\\Ferry\\bin\\ferry-broker.exe\" --service --config "
                                "\"C:\\Program Files\\Ferry\\ferry.conf\""));
        QCOMPARE(QString::fromStdString(ferry::platform::windowsCommandLine("ferry-broker.exe", {})),
                 QStringLiteral("\"ferry-broker.exe\""));
    }
};

QTEST_GUILESS_MAIN(TestWindowsCommandLine)
#include "tst_windows_command_line.moc"
