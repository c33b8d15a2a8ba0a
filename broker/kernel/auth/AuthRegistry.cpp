#include "auth/AuthRegistry.h"

#include "log/Logging.h"
#include "queue/Message.h"
#include "storage/StorageEngine.h"

#include <ferry/ferry_protocol.h>

#include <QByteArray>
#include <QCryptographicHash>
#include <QHostAddress>
#include <QRandomGenerator>

#include <spdlog/spdlog.h>

#include <mutex>
#include <sstream>

namespace ferry {

namespace {
const std::string kUserPrefix = "user/";
const std::string kVhostPrefix = "vhost/";
const std::string kPermissionPrefix = "permission/";

std::vector<std::string> splitList(const std::string &s, char sep)
{
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(s);
    while (std::getline(in, item, sep)) {
        const size_t b = item.find_first_not_of(" \t");
        const size_t e = item.find_last_not_of(" \t");
        if (b != std::string::npos)
            out.push_back(item.substr(b, e - b + 1));
    }
    return out;
}

// Metadata text fields: 'x' then hex (the queue metadata's convention), never empty.
std::string hexOf(const std::string &s) { return "x" + toHex(s); }

std::string unhexOf(const std::string &s)
{
    std::string out;
    if (s.empty() || s[0] != 'x' || !fromHex(std::string_view(s).substr(1), &out))
        return {};
    return out;
}

QRegularExpression anchored(const std::string &pattern)
{
    return QRegularExpression(QRegularExpression::anchoredPattern(QString::fromStdString(pattern)));
}

struct ParsedPermission {
    std::string user, vhost, configure, write, read;
};

// "user@vhost=configure,write,read": the three regexes may not contain ',' (RabbitMQ's patterns rarely do).
bool parsePermission(const std::string &entry, ParsedPermission *out, std::string *error)
{
    const size_t at = entry.find('@');
    const size_t eq = entry.find('=', at == std::string::npos ? 0 : at);
    if (at == std::string::npos || eq == std::string::npos || at == 0) {
        *error = "'" + entry + "' is not user@vhost=configure,write,read";
        return false;
    }
    out->user = entry.substr(0, at);
    out->vhost = entry.substr(at + 1, eq - at - 1);
    std::vector<std::string> parts;
    std::string rest = entry.substr(eq + 1), item;
    std::istringstream in(rest);
    while (std::getline(in, item, ','))
        parts.push_back(item);
    if (parts.size() != 3) {
        *error = "'" + entry + "' needs three comma-separated patterns (configure,write,read)";
        return false;
    }
    out->configure = parts[0];
    out->write = parts[1];
    out->read = parts[2];
    for (const std::string &p : parts)
        if (!anchored(p).isValid()) {
            *error = "'" + p + "' in '" + entry + "' is not a valid regular expression";
            return false;
        }
    return true;
}

bool isLoopback(const std::string &host)
{
    QHostAddress a(QString::fromStdString(host));
    if (a.isNull())
        return host == "localhost";
    return a.isLoopback();
}
} // namespace

AuthRegistry::AuthRegistry(StorageEngine &storage) : storage_(storage) {}

std::string AuthRegistry::hashPassword(const std::string &password)
{
    QByteArray salt(4, '\0');
    const quint32 r = QRandomGenerator::system()->generate();
    for (int i = 0; i < 4; ++i)
        salt[i] = static_cast<char>((r >> (8 * i)) & 0xFF);
    const QByteArray digest =
        QCryptographicHash::hash(salt + QByteArray::fromStdString(password), QCryptographicHash::Sha256);
    return (salt + digest).toBase64().toStdString();
}

bool AuthRegistry::verifyPassword(const std::string &hash, const std::string &password)
{
    const QByteArray raw = QByteArray::fromBase64(QByteArray::fromStdString(hash));
    if (raw.size() != 4 + 32)
        return false;
    const QByteArray salt = raw.left(4);
    const QByteArray digest =
        QCryptographicHash::hash(salt + QByteArray::fromStdString(password), QCryptographicHash::Sha256);
    // Constant-time comparison.
    unsigned char diff = 0;
    for (int i = 0; i < 32; ++i)
        diff |= static_cast<unsigned char>(digest[i] ^ raw[4 + i]);
    return diff == 0;
}

bool AuthRegistry::validate(const AuthSettings &s, std::vector<std::string> *errors)
{
    bool ok = true;
    for (const std::string &u : splitList(s.users, ';')) {
        const size_t colon = u.find(':');
        if (colon == std::string::npos || colon == 0) {
            errors->push_back("config: auth.users: '" + u.substr(0, u.find(':')) + "...' is not name:password");
            ok = false;
        }
    }
    for (const std::string &p : splitList(s.permissions, ';')) {
        ParsedPermission parsed;
        std::string error;
        if (!parsePermission(p, &parsed, &error)) {
            errors->push_back("config: auth.permissions: " + error);
            ok = false;
        }
    }
    if (splitList(s.vhosts, ';').empty()) {
        errors->push_back("config: auth.vhosts: at least one vhost is needed (the default is /)");
        ok = false;
    }
    return ok;
}

bool AuthRegistry::restore(const AuthSettings &settings, std::string *error)
{
    std::map<std::string, User> users;
    std::set<std::string> vhosts;
    std::vector<std::pair<std::pair<std::string, std::string>, Permission>> perms;
    const ferry_status st = storage_.call(
        [&](StorageSession &s) {
            ferry_status r = s.metaScan(kUserPrefix, [&](std::string_view key, std::string_view value) {
                std::istringstream in{std::string(value)};
                int version = 0;
                User u;
                in >> version >> u.hash;
                std::getline(in, u.tags);
                if (!u.tags.empty() && u.tags[0] == ' ')
                    u.tags.erase(0, 1);
                if (version == 1 && !u.hash.empty())
                    users[std::string(key.substr(kUserPrefix.size()))] = u;
            });
            if (r != FERRY_OK)
                return r;
            r = s.metaScan(kVhostPrefix, [&](std::string_view key, std::string_view) {
                vhosts.insert(std::string(key.substr(kVhostPrefix.size())));
            });
            if (r != FERRY_OK)
                return r;
            return s.metaScan(kPermissionPrefix, [&](std::string_view key, std::string_view value) {
                const std::string id(key.substr(kPermissionPrefix.size()));
                const size_t sep = id.find(FERRY_VHOST_SEPARATOR);
                if (sep == std::string::npos)
                    return;
                std::istringstream in{std::string(value)};
                int version = 0;
                std::string c, w, rd;
                in >> version >> c >> w >> rd;
                if (version != 1)
                    return;
                Permission p;
                p.configure = unhexOf(c);
                p.write = unhexOf(w);
                p.read = unhexOf(rd);
                perms.push_back({{id.substr(0, sep), id.substr(sep + 1)}, std::move(p)});
            });
        },
        error);
    if (st != FERRY_OK)
        return false;
    {
        std::unique_lock lock(mutex_);
        users_ = std::move(users);
        vhosts_ = std::move(vhosts);
        for (auto &[id, p] : perms) {
            p.configureRe = anchored(p.configure);
            p.writeRe = anchored(p.write);
            p.readRe = anchored(p.read);
            permissions_[id] = std::move(p);
        }
        loopbackUsers_.clear();
        for (const std::string &u : splitList(settings.loopbackUsers, ','))
            loopbackUsers_.insert(u);
    }
    const bool noUsers = users_.empty();
    for (const std::string &v : splitList(settings.vhosts, ';'))
        putVhost(v);
    if (noUsers && !settings.defaultUser.empty()) { // RabbitMQ: a fresh node always gets the default user
        putUser(settings.defaultUser, settings.defaultPass, "administrator");
        std::string err;
        putPermission(settings.defaultUser, FERRY_DEFAULT_VHOST, ".*", ".*", ".*", &err);
        kernelLogger()->info("auth: created the default user '{}' with full permissions on vhost '/'",
                             settings.defaultUser);
    }
    for (const std::string &u : splitList(settings.users, ';')) {
        const size_t colon = u.find(':');
        if (colon == std::string::npos)
            continue;
        const std::string name = u.substr(0, colon), pass = u.substr(colon + 1);
        {
            std::shared_lock lock(mutex_);
            auto it = users_.find(name);
            if (it != users_.end() && verifyPassword(it->second.hash, pass))
                continue; // unchanged: keep the stored hash
        }
        putUser(name, pass, "");
    }
    for (const std::string &p : splitList(settings.permissions, ';')) {
        ParsedPermission parsed;
        std::string err;
        if (!parsePermission(p, &parsed, &err))
            continue;
        putVhost(parsed.vhost);
        putPermission(parsed.user, parsed.vhost, parsed.configure, parsed.write, parsed.read, &err);
    }
    std::shared_lock lock(mutex_);
    kernelLogger()->info("auth: {} users, {} vhosts, {} permission entries", users_.size(), vhosts_.size(),
                permissions_.size());
    return true;
}

void AuthRegistry::putUser(const std::string &name, const std::string &password, const std::string &tags)
{
    User u{hashPassword(password), tags};
    {
        std::unique_lock lock(mutex_);
        users_[name] = u;
    }
    storage_.submit([key = kUserPrefix + name, value = "1 " + u.hash + " " + tags](StorageSession &s) {
        return s.metaPut(key, value);
    },
                    {}, true);
}

bool AuthRegistry::putUserHash(const std::string &name, const std::string &passwordHash, const std::string &tags)
{
    const QByteArray raw = QByteArray::fromBase64(QByteArray::fromStdString(passwordHash),
                                                  QByteArray::AbortOnBase64DecodingErrors);
    if (raw.size() != 4 + 32)
        return false;
    {
        std::unique_lock lock(mutex_);
        users_[name] = User{passwordHash, tags};
    }
    storage_.submit([key = kUserPrefix + name, value = "1 " + passwordHash + " " + tags](StorageSession &s) {
        return s.metaPut(key, value);
    },
                    {}, true);
    return true;
}

bool AuthRegistry::deleteUser(const std::string &name)
{
    std::vector<std::string> keys;
    {
        std::unique_lock lock(mutex_);
        if (users_.erase(name) == 0)
            return false;
        keys.push_back(kUserPrefix + name);
        erasePermissionsLocked([&](const std::string &, const std::string &user) { return user == name; }, keys);
    }
    deleteMeta(std::move(keys));
    return true;
}

bool AuthRegistry::deleteVhost(const std::string &name)
{
    std::vector<std::string> keys;
    {
        std::unique_lock lock(mutex_);
        if (vhosts_.erase(name) == 0)
            return false;
        keys.push_back(kVhostPrefix + name);
        erasePermissionsLocked([&](const std::string &vhost, const std::string &) { return vhost == name; }, keys);
    }
    deleteMeta(std::move(keys));
    return true;
}

void AuthRegistry::erasePermissionsLocked(const std::function<bool(const std::string &, const std::string &)> &match,
                                          std::vector<std::string> &keys)
{
    for (auto it = permissions_.begin(); it != permissions_.end();) {
        const auto &[vhost, user] = it->first;
        if (match(vhost, user)) {
            keys.push_back(kPermissionPrefix + vhost + FERRY_VHOST_SEPARATOR + user);
            it = permissions_.erase(it);
        } else {
            ++it;
        }
    }
}

void AuthRegistry::deleteMeta(std::vector<std::string> keys)
{
    storage_.submit(
        [keys = std::move(keys)](StorageSession &s) {
            for (const std::string &key : keys)
                if (const ferry_status st = s.metaDelete(key); st != FERRY_OK && st != FERRY_E_NOT_FOUND)
                    return st;
            return FERRY_OK;
        },
        {}, true);
}

void AuthRegistry::putVhost(const std::string &name)
{
    {
        std::unique_lock lock(mutex_);
        if (!vhosts_.insert(name).second)
            return;
    }
    storage_.submit([key = kVhostPrefix + name](StorageSession &s) { return s.metaPut(key, "1"); }, {}, true);
}

ferry_status AuthRegistry::putPermission(const std::string &user, const std::string &vhost,
                                         const std::string &configure, const std::string &write,
                                         const std::string &read, std::string *error)
{
    Permission p;
    p.configure = configure;
    p.write = write;
    p.read = read;
    p.configureRe = anchored(configure);
    p.writeRe = anchored(write);
    p.readRe = anchored(read);
    if (!p.configureRe.isValid() || !p.writeRe.isValid() || !p.readRe.isValid()) {
        *error = "invalid regular expression";
        return FERRY_E_INVALID_ARGUMENT;
    }
    storePermission(user, vhost, p);
    std::unique_lock lock(mutex_);
    permissions_[{vhost, user}] = std::move(p);
    return FERRY_OK;
}

void AuthRegistry::storePermission(const std::string &user, const std::string &vhost, const Permission &p)
{
    storage_.submit([key = kPermissionPrefix + vhost + FERRY_VHOST_SEPARATOR + user,
                     value = "1 " + hexOf(p.configure) + " " + hexOf(p.write) + " " + hexOf(p.read)](
                        StorageSession &s) { return s.metaPut(key, value); },
                    {}, true);
}

ferry_status AuthRegistry::authenticate(const std::string &user, const std::string &password,
                                        const std::string &peerHost, std::string *reason) const
{
    std::shared_lock lock(mutex_);
    auto it = users_.find(user);
    if (it == users_.end() || !verifyPassword(it->second.hash, password)) {
        *reason = "user '" + user + "' - invalid credentials";
        return FERRY_E_ACCESS_DENIED;
    }
    if (loopbackUsers_.count(user) && !isLoopback(peerHost)) {
        *reason = "user '" + user + "' can only connect via localhost";
        return FERRY_E_ACCESS_DENIED;
    }
    return FERRY_OK;
}

std::vector<AuthRegistry::UserView> AuthRegistry::users() const
{
    std::shared_lock lock(mutex_);
    std::vector<UserView> out;
    for (const auto &[name, u] : users_)
        out.push_back({name, u.tags, u.hash});
    return out;
}

std::vector<AuthRegistry::PermissionView> AuthRegistry::permissions() const
{
    std::shared_lock lock(mutex_);
    std::vector<PermissionView> out;
    for (const auto &[key, p] : permissions_)
        out.push_back({key.second, key.first, p.configure, p.write, p.read});
    return out;
}

bool AuthRegistry::hasTag(const std::string &user, std::string_view tag) const
{
    std::shared_lock lock(mutex_);
    auto it = users_.find(user);
    if (it == users_.end())
        return false;
    const std::string &tags = it->second.tags;
    for (size_t at = 0; at < tags.size();) {
        const size_t end = std::min(tags.find_first_of(", ", at), tags.size());
        if (std::string_view(tags).substr(at, end - at) == tag)
            return true;
        at = end + 1;
    }
    return false;
}

ferry_status AuthRegistry::vhostAccess(const std::string &user, const std::string &vhost) const
{
    std::shared_lock lock(mutex_);
    if (!vhosts_.count(vhost))
        return FERRY_E_NOT_FOUND;
    return permissions_.count({vhost, user}) ? FERRY_OK : FERRY_E_ACCESS_DENIED;
}

ferry_status AuthRegistry::check(const std::string &user, const std::string &vhost, uint32_t what,
                                 const std::string &resource) const
{
    std::shared_lock lock(mutex_);
    auto it = permissions_.find({vhost, user});
    if (it == permissions_.end())
        return FERRY_E_ACCESS_DENIED;
    const QRegularExpression *re = what == FERRY_PERMISSION_CONFIGURE ? &it->second.configureRe
                                   : what == FERRY_PERMISSION_WRITE   ? &it->second.writeRe
                                                                      : &it->second.readRe;
    const std::string &pattern = what == FERRY_PERMISSION_CONFIGURE ? it->second.configure
                                 : what == FERRY_PERMISSION_WRITE   ? it->second.write
                                                                    : it->second.read;
    if (pattern.empty())
        return FERRY_E_ACCESS_DENIED; // RabbitMQ: an empty pattern grants nothing
    return re->match(QString::fromStdString(resource)).hasMatch() ? FERRY_OK : FERRY_E_ACCESS_DENIED;
}

std::vector<std::string> AuthRegistry::vhosts() const
{
    std::shared_lock lock(mutex_);
    return {vhosts_.begin(), vhosts_.end()};
}

} // namespace ferry
