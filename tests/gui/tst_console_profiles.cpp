// tst_console_profiles: ferry-console's connection profiles (gui/profiles/ProfileStore), switching brokers in the
// window, its keyboard navigation and its remembered layout, against two real ferry-broker processes.
//   secretStoreKeepsPasswordsOutOfTheSettings  (run by with_secret_service.sh: a real gnome-keyring Secret Service)
//       the password is in the secret store, a new store reads it back, the settings file never holds it
//   sessionOnlyWithoutASecretStore             (run with no D-Bus session)
//       saving says the password is kept for this session only; the settings file never holds it; a new store
//       (the next run) has no password
//   profilesAreListedSortedAndRemoved
//   profileCreatedInTheDialogAndConnected      the profiles dialog refuses a bad URL, saves, and Connect switches
//   switchingBrokersWithTheKeyboard            Ctrl+B, Down: the other broker's screens, nothing of the first left;
//                                              a profile with no password asks for it
//   keyboardPicksScreensAndFilter              Ctrl+2 picks the second screen, Ctrl+F its filter box
//   everyListFiltersAndSorts                   every table of every screen is a ListPage: a filter box, sorting
//   layoutIsRememberedBetweenRuns              column widths, sort order, splitters and the screen, in a new window
// The first case needs the Secret Service and the second its absence, so CTest runs them as two entries, each naming
// its cases on the command line (gui.tst_console_profiles.secret_service and gui.tst_console_profiles); run in the
// wrong environment, a case fails on where the password went.
#include "ListPage.h"
#include "MainWindow.h"
#include "MessageView.h"
#include "OverviewPage.h"
#include "ProfileStore.h"
#include "ProfilesDialog.h"
#include "RunningBroker.h"

#include <QApplication>
#include <QComboBox>
#include <QHeaderView>
#include <QInputDialog>
#include <QLineSeries>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>

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

// Runs `act` once a modal dialog of type T is up (it is what exec() shows), then lets exec() return.
template <typename T, typename F>
void whenModal(F act)
{
    QTimer::singleShot(0, [act] {
        QTRY_VERIFY_WITH_TIMEOUT(qobject_cast<T *>(QApplication::activeModalWidget()), 10000);
        act(qobject_cast<T *>(QApplication::activeModalWidget()));
    });
}

QString adminUrl(const ferry::test::RunningBroker &broker)
{
    return QStringLiteral("http://") + broker.listeners().value(QStringLiteral("admin.listen"));
}

QString uniquePassword() { return QStringLiteral("pw-") + QUuid::createUuid().toString(QUuid::Id128); }

} // namespace

class TestConsoleProfiles : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dirOne_, dirTwo_;
    ferry::test::RunningBroker one_{QStringLiteral(FERRY_BROKER_EXE)};
    ferry::test::RunningBroker two_{QStringLiteral(FERRY_BROKER_EXE)};

    // Starts the two brokers the window cases switch between (once).
    bool startBrokers()
    {
        if (!started_)
            started_ = one_.start(ferry::test::RunningBroker::loopbackArguments(dirOne_.path())) &&
                       two_.start(ferry::test::RunningBroker::loopbackArguments(dirTwo_.path()));
        return started_;
    }
    bool started_ = false;

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void cleanupTestCase()
    {
        if (started_)
            QVERIFY(one_.terminate() && two_.terminate());
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

    void profileCreatedInTheDialogAndConnected()
    {
        QVERIFY2(startBrokers(), qPrintable(one_.describe() + two_.describe()));
        ProfileStore store(QStringLiteral("ferry-console-test"));
        MainWindow window(Profile{QStringLiteral("first"), QUrl(adminUrl(one_)), QStringLiteral("guest"),
                                  QStringLiteral("guest")},
                          &store);
        window.show();
        QApplication::setActiveWindow(&window);
        QVERIFY(QTest::qWaitForWindowActive(&window));
        QSignalSpy shown(&window, &MainWindow::profileShown);
        whenModal<ProfilesDialog>([&](ProfilesDialog *dialog) {
            QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("newProfile")), Qt::LeftButton);
            auto *save = dialog->findChild<QPushButton *>(QStringLiteral("saveProfile"));
            QTest::keyClicks(dialog->findChild<QLineEdit *>(QStringLiteral("profileName")), QStringLiteral("second"));
            QTest::keyClicks(dialog->findChild<QLineEdit *>(QStringLiteral("profileUrl")), QStringLiteral("ftp://x"));
            QVERIFY(!save->isEnabled()); // refused before anything is sent
            QVERIFY(dialog->findChild<QLabel *>(QStringLiteral("error"))->text().contains(QStringLiteral("URL")));
            auto *url = dialog->findChild<QLineEdit *>(QStringLiteral("profileUrl"));
            url->clear();
            QTest::keyClicks(url, adminUrl(two_));
            QTest::keyClicks(dialog->findChild<QLineEdit *>(QStringLiteral("profilePassword")), QStringLiteral("guest"));
            QVERIFY(save->isEnabled());
            QTest::mouseClick(save, Qt::LeftButton);
            QVERIFY(!dialog->findChild<QListWidget *>(QStringLiteral("profileList"))
                         ->findItems(QStringLiteral("second"), Qt::MatchExactly)
                         .isEmpty());
            auto *storage = dialog->findChild<QLabel *>(QStringLiteral("storage"));
            QTRY_VERIFY_WITH_TIMEOUT(storage->text().contains(QStringLiteral("until the console exits")), 10000);
            QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("connectProfile")), Qt::LeftButton);
        });
        QTest::keyClick(&window, Qt::Key_P, Qt::ControlModifier | Qt::ShiftModifier); // opens the profiles dialog
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 10000);
        QCOMPARE(shown.first().first().toString(), QStringLiteral("second"));
        QVERIFY(window.windowTitle().endsWith(QStringLiteral("second")));
        QCOMPARE(window.client()->profile().url, QUrl(adminUrl(two_)));
        auto *listeners = window.findChild<OverviewPage *>()->findChild<QLabel *>(QStringLiteral("listeners"));
        QTRY_VERIFY_WITH_TIMEOUT(listeners->text().contains(two_.listeners().value(QStringLiteral("admin.listen"))),
                                 10000);
        QCOMPARE(store.lastUsed(), QStringLiteral("second"));
        auto *box = window.findChild<QComboBox *>(QStringLiteral("profileBox"));
        QCOMPARE(box->currentText(), QStringLiteral("second"));
        QVERIFY(box->findText(QStringLiteral("first")) >= 0); // the unsaved start profile stays offered
        box->setFocus();
        QTest::keyClick(box, Qt::Key_Down); // the unsaved profile comes after the saved ones
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 2, 10000);
        QCOMPARE(shown.last().first().toString(), QStringLiteral("first"));
        QCOMPARE(window.client()->profile().url, QUrl(adminUrl(one_)));
        QCOMPARE(window.client()->profile().password, QStringLiteral("guest"));
    }

    void switchingBrokersWithTheKeyboard()
    {
        QVERIFY2(startBrokers(), qPrintable(one_.describe() + two_.describe()));
        {
            // A queue only broker one has, to see that none of it stays after the switch.
            AdminClient setup;
            setup.setProfile(Profile{QString(), QUrl(adminUrl(one_)), QStringLiteral("guest"), QStringLiteral("guest")});
            QSignalSpy done(&setup, &AdminClient::changeFinished);
            setup.declareQueue(QStringLiteral("/"), QStringLiteral("only-on-one"), true);
            QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 10000);
            QVERIFY(done.first().at(1).toBool());
        }
        ProfileStore store(QStringLiteral("ferry-console-test"));
        store.save(Profile{QStringLiteral("a-one"), QUrl(adminUrl(one_)), QStringLiteral("guest"), QStringLiteral("guest")});
        store.save(Profile{QStringLiteral("b-two"), QUrl(adminUrl(two_)), QStringLiteral("guest"), QString()});
        MainWindow window(Profile{QStringLiteral("a-one"), QUrl(adminUrl(one_)), QStringLiteral("guest"),
                                  QStringLiteral("guest")},
                          &store);
        window.show();
        QApplication::setActiveWindow(&window);
        QVERIFY(QTest::qWaitForWindowActive(&window));
        auto *queues = window.findChild<QWidget *>(QStringLiteral("queuesPage"))->findChild<QTableView *>();
        QTRY_VERIFY_WITH_TIMEOUT(queues->model()->match(queues->model()->index(0, 1), Qt::DisplayRole,
                                                        QStringLiteral("only-on-one"), 1, Qt::MatchExactly)
                                     .size() == 1,
                                 10000);

        // b-two has no password stored: the console asks for it.
        QSignalSpy shown(&window, &MainWindow::profileShown);
        QTest::keyClick(&window, Qt::Key_B, Qt::ControlModifier);
        auto *box = window.findChild<QComboBox *>(QStringLiteral("profileBox"));
        QVERIFY(box->hasFocus());
        QTest::keyClick(box, Qt::Key_Down);
        QInputDialog *prompt = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((prompt = window.findChild<QInputDialog *>(QStringLiteral("passwordPrompt"))), 10000);
        QVERIFY(prompt->labelText().contains(adminUrl(two_)));
        prompt->setTextValue(QStringLiteral("guest"));
        prompt->accept();
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 10000);
        QCOMPARE(window.client()->profile().url, QUrl(adminUrl(two_)));
        queues = window.findChild<QWidget *>(QStringLiteral("queuesPage"))->findChild<QTableView *>();
        auto *listeners = window.findChild<OverviewPage *>()->findChild<QLabel *>(QStringLiteral("listeners"));
        QTRY_VERIFY_WITH_TIMEOUT(listeners->text().contains(two_.listeners().value(QStringLiteral("admin.listen"))),
                                 10000);
        QTRY_VERIFY_WITH_TIMEOUT(!window.findChild<QLabel *>(QStringLiteral("banner"))->isVisible(), 10000);
        QVERIFY(queues->model()->match(queues->model()->index(0, 1), Qt::DisplayRole, QStringLiteral("only-on-one"), 1,
                                       Qt::MatchExactly)
                    .isEmpty());

        // Back to a-one: its password is in this session's store, so no prompt.
        QTest::keyClick(&window, Qt::Key_B, Qt::ControlModifier);
        QTest::keyClick(box, Qt::Key_Up);
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 2, 10000);
        QCOMPARE(window.client()->profile().url, QUrl(adminUrl(one_)));
        QVERIFY(!window.findChild<QInputDialog *>(QStringLiteral("passwordPrompt")));

        // F5 refreshes at once (the timer is set far off): the overview chart gets a point.
        window.setRefreshIntervalMs(600000);
        auto *overview = window.findChild<OverviewPage *>();
        QTRY_VERIFY_WITH_TIMEOUT(overview->publishSeries()->count() >= 1, 10000);
        const int points = overview->publishSeries()->count();
        QApplication::setActiveWindow(&window); // the offscreen platform leaves it inactive after the prompt
        QVERIFY(QTest::qWaitForWindowActive(&window));
        QTest::keyClick(&window, Qt::Key_F5);
        QTRY_VERIFY_WITH_TIMEOUT(overview->publishSeries()->count() > points, 10000);
    }

    void keyboardPicksScreensAndFilter()
    {
        MainWindow window(Profile{QStringLiteral("nowhere"), QUrl(QStringLiteral("http://127.0.0.1:9")),
                                  QStringLiteral("guest"), QStringLiteral("guest")});
        window.show();
        QApplication::setActiveWindow(&window);
        QVERIFY(QTest::qWaitForWindowActive(&window));
        auto *tabs = window.findChild<QTabWidget *>(QStringLiteral("tabs"));
        QTest::keyClick(&window, Qt::Key_2, Qt::ControlModifier);
        QCOMPARE(tabs->currentIndex(), 1);
        QTest::keyClick(&window, Qt::Key_3, Qt::ControlModifier);
        QCOMPARE(tabs->currentIndex(), 2);
        QTest::keyClick(&window, Qt::Key_F, Qt::ControlModifier);
        auto *filter = tabs->currentWidget()->findChild<QLineEdit *>(QStringLiteral("filter"));
        QVERIFY(filter && filter->hasFocus());
        QTest::keyClick(&window, Qt::Key_1, Qt::ControlModifier);
        QCOMPARE(tabs->currentIndex(), 0);
    }

    void everyListFiltersAndSorts()
    {
        MainWindow window(Profile{QStringLiteral("nowhere"), QUrl(QStringLiteral("http://127.0.0.1:9")),
                                  QStringLiteral("guest"), QStringLiteral("guest")});
        auto *tabs = window.findChild<QTabWidget *>(QStringLiteral("tabs"));
        int lists = 0;
        for (int i = 0; i < tabs->count(); ++i) {
            for (QTableView *table : tabs->widget(i)->findChildren<QTableView *>()) {
                bool inMessageView = false;
                for (QObject *o = table->parent(); o; o = o->parent())
                    inMessageView |= qobject_cast<MessageView *>(o) != nullptr;
                if (inMessageView)
                    continue; // one message's fields: a detail view, not a list
                const QString where = tabs->widget(i)->objectName() + QLatin1Char('/') + table->parent()->objectName();
                QVERIFY2(table->isSortingEnabled(), qPrintable(where));
                auto *list = qobject_cast<ListPage *>(table->parent());
                QVERIFY2(list && list->filter(), qPrintable(where + QStringLiteral(": no filter box")));
                ++lists;
            }
        }
        QVERIFY(lists >= 13); // topics, queues, exchanges, bindings, connections, messages, 3 DLQ, 3 group, members
    }

    void layoutIsRememberedBetweenRuns()
    {
        const Profile nowhere{QStringLiteral("nowhere"), QUrl(QStringLiteral("http://127.0.0.1:9")),
                              QStringLiteral("guest"), QStringLiteral("guest")};
        QList<int> sizes;
        {
            MainWindow window(nowhere);
            window.show();
            auto *tabs = window.findChild<QTabWidget *>(QStringLiteral("tabs"));
            auto *topics = window.findChild<QWidget *>(QStringLiteral("topicsPage"))->findChild<QTableView *>();
            topics->horizontalHeader()->resizeSection(0, 321);
            topics->sortByColumn(1, Qt::DescendingOrder);
            QWidget *deadLetters = window.findChild<QWidget *>(QStringLiteral("deadLettersPage"));
            tabs->setCurrentWidget(deadLetters);
            QApplication::processEvents();
            QSplitter *splitter = deadLetters->findChild<QSplitter *>();
            QVERIFY(splitter);
            sizes = splitter->sizes();
            QVERIFY(sizes.size() == 2 && sizes.first() > 0);
            sizes = {sizes.first() + sizes.last() - 150, 150};
            splitter->setSizes(sizes);
            sizes = splitter->sizes();
        } // closing saves the layout
        MainWindow again(nowhere);
        again.show();
        auto *tabs = again.findChild<QTabWidget *>(QStringLiteral("tabs"));
        QCOMPARE(tabs->currentWidget()->objectName(), QStringLiteral("deadLettersPage"));
        auto *topics = again.findChild<QWidget *>(QStringLiteral("topicsPage"))->findChild<QTableView *>();
        QCOMPARE(topics->horizontalHeader()->sectionSize(0), 321);
        QCOMPARE(topics->horizontalHeader()->sortIndicatorSection(), 1);
        QCOMPARE(topics->horizontalHeader()->sortIndicatorOrder(), Qt::DescendingOrder);
        QCOMPARE(tabs->currentWidget()->findChild<QSplitter *>()->sizes(), sizes);
    }
};

QTEST_MAIN(TestConsoleProfiles)
#include "tst_console_profiles.moc"
