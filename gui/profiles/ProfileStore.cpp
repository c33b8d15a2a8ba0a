#include "ProfileStore.h"

#include <QSettings>
#include <QTimer>

#include <algorithm>

#ifdef FERRY_HAVE_QTKEYCHAIN
#include <qt6keychain/keychain.h>
#endif

namespace ferry::console {

namespace {

const QString kProfilesArray = QStringLiteral("profiles");
const QString kLastUsed = QStringLiteral("lastProfile");

} // namespace

ProfileStore::ProfileStore(const QString &secretService, QObject *parent)
    : QObject(parent), secretService_(secretService)
{
}

QList<Profile> ProfileStore::profiles() const
{
    QSettings settings;
    QList<Profile> out;
    const int n = settings.beginReadArray(kProfilesArray);
    for (int i = 0; i < n; ++i) {
        settings.setArrayIndex(i);
        out.append(Profile{settings.value(QStringLiteral("name")).toString(),
                           QUrl(settings.value(QStringLiteral("url")).toString()),
                           settings.value(QStringLiteral("user")).toString(), QString()});
    }
    settings.endArray();
    std::sort(out.begin(), out.end(), [](const Profile &a, const Profile &b) { return a.name < b.name; });
    return out;
}

std::optional<Profile> ProfileStore::profile(const QString &name) const
{
    for (const Profile &p : profiles())
        if (p.name == name)
            return p;
    return std::nullopt;
}

QString ProfileStore::lastUsed() const { return QSettings().value(kLastUsed).toString(); }

void ProfileStore::setLastUsed(const QString &name) { QSettings().setValue(kLastUsed, name); }

void ProfileStore::writeProfiles(const QList<Profile> &profiles)
{
    QSettings settings;
    settings.remove(kProfilesArray); // the whole array: a shorter list leaves no stale entries
    settings.beginWriteArray(kProfilesArray, int(profiles.size()));
    for (int i = 0; i < profiles.size(); ++i) {
        settings.setArrayIndex(i);
        settings.setValue(QStringLiteral("name"), profiles[i].name);
        settings.setValue(QStringLiteral("url"), profiles[i].url.toString());
        settings.setValue(QStringLiteral("user"), profiles[i].user);
    }
    settings.endArray();
    settings.sync();
    emit profilesChanged();
}

void ProfileStore::save(const Profile &profile)
{
    QList<Profile> all = profiles();
    all.erase(std::remove_if(all.begin(), all.end(), [&](const Profile &p) { return p.name == profile.name; }),
              all.end());
    all.append(Profile{profile.name, profile.url, profile.user, QString()});
    writeProfiles(all);

    if (profile.password.isEmpty())
        return;
    const QString name = profile.name;
    sessionPasswords_.insert(name, profile.password);
#ifdef FERRY_HAVE_QTKEYCHAIN
    auto *job = new QKeychain::WritePasswordJob(secretService_, this);
    job->setTextData(profile.password);
    job->setInsecureFallback(false); // never the plain-text settings file
    job->setKey(name);
    connect(job, &QKeychain::Job::finished, this, [this, name](QKeychain::Job *done) {
        if (done->error() == QKeychain::NoError)
            emit saved(name, PasswordStorage::SecretStore, QString());
        else
            emit saved(name, PasswordStorage::SessionOnly, done->errorString());
    });
    job->start();
#else
    QTimer::singleShot(0, this, [this, name] {
        emit saved(name, PasswordStorage::SessionOnly, tr("this ferry-console was built without QtKeychain"));
    });
#endif
}

void ProfileStore::remove(const QString &name)
{
    QList<Profile> all = profiles();
    all.erase(std::remove_if(all.begin(), all.end(), [&](const Profile &p) { return p.name == name; }), all.end());
    writeProfiles(all);
    sessionPasswords_.remove(name);
    if (lastUsed() == name)
        QSettings().remove(kLastUsed);
#ifdef FERRY_HAVE_QTKEYCHAIN
    auto *job = new QKeychain::DeletePasswordJob(secretService_, this);
    job->setInsecureFallback(false);
    job->setKey(name);
    connect(job, &QKeychain::Job::finished, this, [this, name](QKeychain::Job *) { emit removed(name); });
    job->start();
#else
    QTimer::singleShot(0, this, [this, name] { emit removed(name); });
#endif
}

void ProfileStore::loadPassword(const QString &name)
{
    if (sessionPasswords_.contains(name)) {
        QTimer::singleShot(0, this, [this, name, password = sessionPasswords_.value(name)] {
            emit passwordReady(name, password, true);
        });
        return;
    }
#ifdef FERRY_HAVE_QTKEYCHAIN
    auto *job = new QKeychain::ReadPasswordJob(secretService_, this);
    job->setInsecureFallback(false);
    job->setKey(name);
    connect(job, &QKeychain::Job::finished, this, [this, name](QKeychain::Job *done) {
        auto *read = static_cast<QKeychain::ReadPasswordJob *>(done);
        const bool found = read->error() == QKeychain::NoError;
        emit passwordReady(name, found ? read->textData() : QString(), found);
    });
    job->start();
#else
    QTimer::singleShot(0, this, [this, name] { emit passwordReady(name, QString(), false); });
#endif
}

} // namespace ferry::console
