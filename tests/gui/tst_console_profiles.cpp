// tst_console_profiles: ferry-console's connection profiles (gui/profiles/ProfileStore) and broker switching.
//   secretStoreKeepsPasswordsOutOfTheSettings  (run by with_secret_service.sh: a real gnome-keyring Secret Service)
//       the password is in the secret store, a new store reads it back, the settings file never holds it
//   sessionOnlyWithoutASecretStore             (run with no D-Bus session)
//       saving says the password is kept for this session only; the settings file never holds it; a new store
//       (the next run) has no password
//   profilesAreListedSortedAndRemoved
// The first case needs the Secret Service and the second its absence, so CTest runs them as two entries, each naming
// its cases on the command line (gui.tst_console_profiles.secret_service and gui.tst_console_profiles); run in the
// wrong environment, a case fails on where the password went.
#include "ProfileStore.h"

#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QUuid>
#include <QtTest>

using namespace ferry::console;

namespace {

QByteArray settingsFileBytes()
{
    QSettings settings;
    settings.sync();
    QFile file(settings.fileName());
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

QString uniquePassword() { return QStringLiteral("pw-") + QUuid::createUuid().toString(QUuid::Id128); }

} // namespace

class TestConsoleProfiles : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void init() { QSettings().clear(); } // each case starts with no profile

    void secretStoreKeepsPasswordsOutOfTheSettings()
    {
        const QString service = QStringLiteral("ferry-console-test");
        const QString password = uniquePassword();
        {
            ProfileStore store(service);
            QSignalSpy saved(&store, &ProfileStore::saved);
            store.save(Profile{QStringLiteral("prod"), QUrl(QStringLiteral("https://broker.example:15680")),
                               QStringLiteral("admin"), password});
            QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 1, 20000);
            QVERIFY2(saved.first().at(1).value<ProfileStore::PasswordStorage>() ==
                         ProfileStore::PasswordStorage::SecretStore,
                     qPrintable(QStringLiteral("no Secret Service answered: ") + saved.first().at(2).toString()));
        }
        const QByteArray file = settingsFileBytes();
        QVERIFY2(file.contains("broker.example"), file.constData()); // the profile itself is in the settings
        QVERIFY2(!file.contains(password.toUtf8()), file.constData());

        ProfileStore next(service); // a new run: nothing in memory, the secret store answers
        QCOMPARE(next.profile(QStringLiteral("prod"))->user, QStringLiteral("admin"));
        QCOMPARE(next.profile(QStringLiteral("prod"))->password, QString());
        QSignalSpy ready(&next, &ProfileStore::passwordReady);
        next.loadPassword(QStringLiteral("prod"));
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 20000);
        QCOMPARE(ready.first().at(1).toString(), password);
        QVERIFY(ready.first().at(2).toBool());

        QSignalSpy removed(&next, &ProfileStore::removed);
        next.remove(QStringLiteral("prod"));
        QTRY_COMPARE_WITH_TIMEOUT(removed.count(), 1, 20000);
        ProfileStore after(service);
        QSignalSpy gone(&after, &ProfileStore::passwordReady);
        after.loadPassword(QStringLiteral("prod"));
        QTRY_COMPARE_WITH_TIMEOUT(gone.count(), 1, 20000);
        QVERIFY(!gone.first().at(2).toBool()); // removed from the secret store too
    }

    void sessionOnlyWithoutASecretStore()
    {
        const QString password = uniquePassword();
        {
            ProfileStore store(QStringLiteral("ferry-console-test"));
            QSignalSpy saved(&store, &ProfileStore::saved);
            store.save(Profile{QStringLiteral("lab"), QUrl(QStringLiteral("http://10.1.2.3:15680")),
                               QStringLiteral("ops"), password});
            QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 1, 20000);
            QVERIFY2(saved.first().at(1).value<ProfileStore::PasswordStorage>() ==
                         ProfileStore::PasswordStorage::SessionOnly,
                     "a secret store answered: this case runs without one");
            QVERIFY(!saved.first().at(2).toString().isEmpty()); // the secret store's reason, for the user

            QSignalSpy ready(&store, &ProfileStore::passwordReady);
            store.loadPassword(QStringLiteral("lab")); // this session still has it
            QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 20000);
            QCOMPARE(ready.first().at(1).toString(), password);
        }
        const QByteArray file = settingsFileBytes();
        QVERIFY2(file.contains("10.1.2.3"), file.constData());
        QVERIFY2(!file.contains(password.toUtf8()), file.constData());

        ProfileStore next(QStringLiteral("ferry-console-test"));
        QSignalSpy ready(&next, &ProfileStore::passwordReady);
        next.loadPassword(QStringLiteral("lab"));
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 20000);
        QVERIFY(!ready.first().at(2).toBool()); // not written anywhere: the console asks again
        next.remove(QStringLiteral("lab"));
    }

    void profilesAreListedSortedAndRemoved()
    {
        ProfileStore store(QStringLiteral("ferry-console-test"));
        for (const QString &name : {QStringLiteral("zeta"), QStringLiteral("alpha"), QStringLiteral("mid/with/slash")})
            store.save(Profile{name, QUrl(QStringLiteral("http://127.0.0.1:1")), QStringLiteral("guest"), QString()});
        QStringList names;
        for (const Profile &p : store.profiles())
            names << p.name;
        QCOMPARE(names, (QStringList{QStringLiteral("alpha"), QStringLiteral("mid/with/slash"), QStringLiteral("zeta")}));
        store.save(Profile{QStringLiteral("alpha"), QUrl(QStringLiteral("http://127.0.0.1:2")), QStringLiteral("bob"),
                           QString()}); // replaces, does not add
        QCOMPARE(store.profiles().size(), 3);
        QCOMPARE(store.profile(QStringLiteral("alpha"))->url.port(), 2);
        store.setLastUsed(QStringLiteral("zeta"));
        QCOMPARE(ProfileStore().lastUsed(), QStringLiteral("zeta"));
        store.remove(QStringLiteral("zeta"));
        store.remove(QStringLiteral("mid/with/slash"));
        QCOMPARE(store.profiles().size(), 1);
        QVERIFY(!store.profile(QStringLiteral("zeta")));
        QCOMPARE(store.lastUsed(), QString()); // the last-used profile went with it
        store.remove(QStringLiteral("alpha"));
        QVERIFY(store.profiles().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestConsoleProfiles)
#include "tst_console_profiles.moc"
