// ferry-console: the Qt desktop console for Ferry brokers (gui/README.md).
//   ferry-console [--profile NAME] [--url URL [--user USER]] [--screenshots DIR]
// Without --url it opens the saved profile NAME, else the one used last, else the local broker's default
// (http://127.0.0.1:15680, guest). With --url it opens that broker unsaved, the password from FERRY_PASSWORD
// (guest by default). Saved profiles keep their passwords in the platform's secret store (ProfileStore).
#include "MainWindow.h"
#include "ProfileStore.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QProcessEnvironment>
#include <QTimer>

#include <memory>

using ferry::console::MainWindow;
using ferry::console::Profile;
using ferry::console::ProfileStore;

namespace {

void nameApplication()
{
    QCoreApplication::setOrganizationName(QStringLiteral("Ferry"));
    QCoreApplication::setApplicationName(QStringLiteral("ferry-console"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FERRY_VERSION));
}

} // namespace

int main(int argc, char **argv)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("The Ferry broker console"));
    parser.addHelpOption();
    const QCommandLineOption version = parser.addVersionOption();
    const QCommandLineOption profileName(QStringLiteral("profile"), QStringLiteral("Open the saved profile NAME."),
                                         QStringLiteral("NAME"));
    const QCommandLineOption url(QStringLiteral("url"),
                                 QStringLiteral("Open the broker whose admin API is at URL, without a saved profile."),
                                 QStringLiteral("URL"));
    const QCommandLineOption user(QStringLiteral("user"), QStringLiteral("The broker user with --url."),
                                  QStringLiteral("USER"), QStringLiteral("guest"));
    const QCommandLineOption screenshots(QStringLiteral("screenshots"),
                                         QStringLiteral("Save a PNG of every screen into DIR once the data arrived, then "
                                                        "exit (scripts/screenshots.sh)."),
                                         QStringLiteral("DIR"));
    parser.addOption(profileName);
    parser.addOption(url);
    parser.addOption(user);
    parser.addOption(screenshots);
    // --help and --version answer without a display (a headless server, an SSH session): no QApplication for them.
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if (arg == "-h" || arg == "--help" || arg == "--help-all" || arg == "-v" || arg == "--version") {
            QCoreApplication commandLine(argc, argv);
            nameApplication();
            parser.parse(commandLine.arguments()); // Qt's GUI options (-platform, ...) may be there: no errors
            if (parser.isSet(version))
                parser.showVersion();
            parser.showHelp(0);
        }
    }

    QApplication app(argc, argv);
    nameApplication();
    QApplication::setStyle(QStringLiteral("Fusion")); // one look on Windows and every Linux desktop
    parser.process(app);

    ProfileStore profiles;
    std::unique_ptr<MainWindow> window;
    const auto open = [&](const Profile &profile) {
        window = std::make_unique<MainWindow>(profile, &profiles);
        window->resize(1100, 700);
        window->show();
        if (parser.isSet(screenshots)) {
            // Two refreshes apart, so the rate charts have points, then every screen.
            QTimer::singleShot(1500, window.get(), [&] { window->refresh(); });
            QTimer::singleShot(3500, window.get(), [&] {
                const bool ok = window->saveScreenshots(parser.value(screenshots));
                QCoreApplication::exit(ok ? 0 : 1);
            });
        }
    };

    const QString envPassword =
        QProcessEnvironment::systemEnvironment().value(QStringLiteral("FERRY_PASSWORD"), QStringLiteral("guest"));
    const QString saved = parser.isSet(profileName) ? parser.value(profileName) : profiles.lastUsed();
    if (parser.isSet(url)) {
        open(Profile{parser.value(url), QUrl(parser.value(url)), parser.value(user), envPassword});
    } else if (const std::optional<Profile> profile = profiles.profile(saved)) {
        QObject::connect(&profiles, &ProfileStore::passwordReady, &app,
                         [&, profile = *profile](const QString &name, const QString &password, bool found) mutable {
                             if (window || name != profile.name)
                                 return;
                             profile.password = password;
                             open(profile);
                             if (!found)
                                 window->switchToProfile(profile.name); // asks for the password
                         });
        profiles.loadPassword(profile->name);
    } else {
        if (parser.isSet(profileName))
            qWarning("ferry-console: no saved profile '%s'; opening the local broker", qPrintable(saved));
        open(Profile{QStringLiteral("local"), QUrl(QStringLiteral("http://127.0.0.1:15680")), QStringLiteral("guest"),
                     envPassword});
    }
    const int rc = app.exec();
    window.reset(); // saves the layout while the application still exists
    return rc;
}
