// ferry-console: the Qt desktop console for a Ferry broker (gui/README.md).
//   ferry-console [--url URL] [--user USER] [--screenshots DIR]
// The password comes from FERRY_PASSWORD (guest by default).
#include "MainWindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QProcessEnvironment>
#include <QTimer>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Ferry"));
    QApplication::setApplicationName(QStringLiteral("ferry-console"));
    QApplication::setApplicationVersion(QStringLiteral(FERRY_VERSION));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("The Ferry broker console"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption url(QStringLiteral("url"), QStringLiteral("The broker's admin API."), QStringLiteral("URL"),
                                 QStringLiteral("http://127.0.0.1:15680"));
    const QCommandLineOption user(QStringLiteral("user"), QStringLiteral("The broker user."), QStringLiteral("USER"),
                                  QStringLiteral("guest"));
    const QCommandLineOption screenshots(QStringLiteral("screenshots"),
                                         QStringLiteral("Save a PNG of every screen into DIR once the data arrived, then "
                                                        "exit (scripts/screenshots.sh)."),
                                         QStringLiteral("DIR"));
    parser.addOption(url);
    parser.addOption(user);
    parser.addOption(screenshots);
    parser.process(app);
    const QString password =
        QProcessEnvironment::systemEnvironment().value(QStringLiteral("FERRY_PASSWORD"), QStringLiteral("guest"));
    ferry::console::MainWindow window(
        {parser.value(url), QUrl(parser.value(url)), parser.value(user), password});
    window.resize(1100, 700);
    window.show();
    if (parser.isSet(screenshots)) {
        // Two refreshes apart, so the rate charts have points, then every screen.
        QTimer::singleShot(1500, &window, [&window] { window.refresh(); });
        QTimer::singleShot(3500, &window, [&] {
            const bool ok = window.saveScreenshots(parser.value(screenshots));
            QCoreApplication::exit(ok ? 0 : 1);
        });
    }
    return app.exec();
}
