// AuthRegistry: users, virtual hosts and permissions in RabbitMQ's model, for every protocol plugin.
//
// - A user has a name, a salted SHA-256 password hash (RabbitMQ's rabbit_password_hashing_sha256 layout: base64 of
//   4 salt bytes + SHA-256(salt + password)) and tags.
// - A vhost is a name; queues and exchanges are qualified by it (ferry_protocol.h, FERRY_VHOST_SEPARATOR).
// - A permission is (user, vhost) -> configure / write / read regular expressions, each matched against the whole
//   resource name (without its vhost). No entry: no access to the vhost.
// - Users named in auth.loopback_users may log in only from a loopback address (RabbitMQ's guest rule).
//
// Everything is recorded in the storage plugin's metadata space ("user/<name>" -> "1 <hash> <tags>",
// "vhost/<name>" -> "1", "permission/<vhost>\x1f<user>" -> "1 <hex configure> <hex write> <hex read>"), so changes
// made at run time (the admin API) survive restarts. At start-up the configured vhosts, users and permissions
// (auth.*) are applied on top, and when storage holds no user at all, auth.default_user with full permissions on
// "/" is created.
// Threading: thread-safe; lookups take a shared lock and never touch storage.
#pragma once

#include <ferry/ferry_plugin.h>

#include <QRegularExpression>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class StorageEngine;

struct AuthSettings {
    std::string vhosts = "/";            // auth.vhosts: ';'-separated
    std::string users;                   // auth.users: "name:password;..."
    std::string permissions;             // auth.permissions: "user@vhost=configure,write,read;..."
    std::string loopbackUsers = "guest"; // auth.loopback_users: ','-separated
    std::string defaultUser = "guest";   // auth.default_user / auth.default_pass: created when no user exists
    std::string defaultPass = "guest";
};

class AuthRegistry {
public:
    explicit AuthRegistry(StorageEngine &storage);

    // Parses the auth.* values; false with one error per bad entry ("config: auth.users: ...").
    static bool validate(const AuthSettings &settings, std::vector<std::string> *errors);
    // Start-up: reads what storage holds, then applies settings (see above). Blocking.
    bool restore(const AuthSettings &settings, std::string *error);

    ferry_status authenticate(const std::string &user, const std::string &password, const std::string &peerHost,
                              std::string *reason) const;
    ferry_status vhostAccess(const std::string &user, const std::string &vhost) const;
    // what: FERRY_PERMISSION_CONFIGURE / WRITE / READ.
    ferry_status check(const std::string &user, const std::string &vhost, uint32_t what,
                       const std::string &resource) const;
    // The user has this tag (tags are separated by ',' or spaces, RabbitMQ's "administrator", "monitoring", ...).
    bool hasTag(const std::string &user, std::string_view tag) const;
    std::vector<std::string> vhosts() const;
    struct UserView {
        std::string name, tags;
        std::string passwordHash; // rabbit_password_hashing_sha256 layout (definitions export)
    };
    struct PermissionView {
        std::string user, vhost, configure, write, read;
    };
    std::vector<UserView> users() const;             // by name
    std::vector<PermissionView> permissions() const; // by vhost, then user

    // Changes (persisted). Passwords are hashed here; the clear text is never stored.
    void putUser(const std::string &name, const std::string &password, const std::string &tags);
    // A user from a definitions file: the hash as exported (false when it is not valid base64 of >= 5 bytes).
    bool putUserHash(const std::string &name, const std::string &passwordHash, const std::string &tags);
    void putVhost(const std::string &name);
    // Remove the user (and its permissions) / the vhost (and its permissions); false when there is none. The
    // vhost's queues and exchanges are the caller's to delete.
    bool deleteUser(const std::string &name);
    bool deleteVhost(const std::string &name);
    ferry_status putPermission(const std::string &user, const std::string &vhost, const std::string &configure,
                               const std::string &write, const std::string &read, std::string *error);

    static std::string hashPassword(const std::string &password);
    static bool verifyPassword(const std::string &hash, const std::string &password);

private:
    struct User {
        std::string hash;
        std::string tags;
    };
    struct Permission {
        std::string configure, write, read;
        QRegularExpression configureRe, writeRe, readRe;
    };
    void storePermission(const std::string &user, const std::string &vhost, const Permission &p);
    // Removes the permissions match(vhost, user) picks, adding their metadata keys to keys. Under mutex_.
    void erasePermissionsLocked(const std::function<bool(const std::string &, const std::string &)> &match,
                                std::vector<std::string> &keys);
    // Deletes metadata keys in storage (asynchronously, in order after earlier writes).
    void deleteMeta(std::vector<std::string> keys);

    StorageEngine &storage_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, User> users_;
    std::set<std::string> vhosts_;
    std::map<std::pair<std::string, std::string>, Permission> permissions_; // (vhost, user)
    std::set<std::string> loopbackUsers_;
};

} // namespace ferry
