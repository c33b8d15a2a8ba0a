// ferry-console: the Qt desktop console for a Ferry broker (gui/README.md).
//   ferry-console [--url URL] [--user USER]   the password comes from FERRY_PASSWORD (guest by default)
#include "MainWindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QProcessEnvironment>

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
    parser.addOption(url);
    parser.addOption(user);
    parser.process(app);
    const QString password =
        QProcessEnvironment::systemEnvironment().value(QStringLiteral("FERRY_PASSWORD"), QStringLiteral("guest"));
    ferry::console::MainWindow window(
        {parser.value(url), QUrl(parser.value(url)), parser.value(user), password});
    window.show();
    return app.exec();
}
