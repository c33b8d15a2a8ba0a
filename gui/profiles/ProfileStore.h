// ProfileStore: the brokers ferry-console knows (connection profiles) and which one was used last.
//
// Name, URL and user live in the application's settings (QSettings). A password never does: it goes to the
// platform's secret store through QtKeychain (Secret Service or KWallet on Linux, Credential Manager on Windows,
// Keychain on macOS), under the service secretService() and the profile's name. Where no secret store answers
// (a headless Linux machine without a Secret Service, or a build without QtKeychain), a password is kept in memory
// until the console exits, and saved() says so: it is never written in plain text as a fallback.
//
// Threading: the thread the object lives on (the GUI thread). save(), remove() and loadPassword() are asynchronous
// (the secret store may ask the user to unlock it) and answer with their signals from that thread's event loop.
#pragma once

#include "AdminClient.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QString>

#include <optional>

namespace ferry::console {

class ProfileStore : public QObject {
    Q_OBJECT
public:
    // Where a saved password went.
    enum class PasswordStorage { SecretStore, SessionOnly };
    Q_ENUM(PasswordStorage)

    // secretService: the secret store's service name for the passwords ("ferry-console"; tests use their own).
    explicit ProfileStore(const QString &secretService = QStringLiteral("ferry-console"), QObject *parent = nullptr);

    QString secretService() const { return secretService_; }
    // Every profile, sorted by name, without passwords.
    QList<Profile> profiles() const;
    std::optional<Profile> profile(const QString &name) const;
    QString lastUsed() const;
    void setLastUsed(const QString &name);

    // Creates or replaces the profile `profile.name` (renaming: remove the old name). Settings are written at once
    // (profilesChanged); the password asynchronously: saved(name, storage, detail). An empty password keeps the
    // stored one (and emits no saved()).
    void save(const Profile &profile);
    // Removes the profile and its stored password: profilesChanged, then removed(name).
    void remove(const QString &name);
    // The profile's password: from this session's memory, else the secret store. passwordReady(name, password,
    // found); found is false when neither has one (the console then asks for it).
    void loadPassword(const QString &name);

signals:
    void profilesChanged();
    // detail: the secret store's reason when storage is SessionOnly.
    void saved(const QString &name, ferry::console::ProfileStore::PasswordStorage storage, const QString &detail);
    void removed(const QString &name);
    void passwordReady(const QString &name, const QString &password, bool found);

private:
    void writeProfiles(const QList<Profile> &profiles);

    QString secretService_;
    QHash<QString, QString> sessionPasswords_; // name -> password given in this session
};

} // namespace ferry::console
