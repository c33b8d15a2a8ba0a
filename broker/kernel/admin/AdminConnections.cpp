// The admin API's connections (docs/admin-api.md, "Connections"): every client connection the kernel's network layer
// holds, with what its protocol plugin told about it (host->set_conn_identity: user, vhost, client, channels), byte
// counters and rates; closing one asks its plugin to say goodbye in its protocol (on_close_request). Channels come
// from the plugins that multiplex them (list_channels, asked on each connection's thread).
//
// A connection's name is RabbitMQ's, "<peer host:port> -> <local host:port>"; the numeric id works in paths too.
#include "admin/AdminHandlers.h"

#include "net/NetworkServer.h"

#include <QJsonArray>

#include <charconv>
#include <map>
#include <optional>

namespace ferry::admin {

namespace {

std::string connectionName(const ConnectionSnapshot &c) { return c.peer + " -> " + c.local; }

std::pair<std::string, int> hostPort(const std::string &address)
{
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos)
        return {address, 0};
    std::string host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return {host, std::atoi(address.c_str() + colon + 1)};
}

QJsonObject connectionJson(const AdminRoutes &r, const ConnectionSnapshot &c)
{
    const auto [peerHost, peerPort] = hostPort(c.peer);
    const auto [host, port] = hostPort(c.local);
    const auto [recvRate, sendRate] = r.rates().connection(c.id);
    return QJsonObject{{"id", static_cast<qint64>(c.id)},
                       {"name", q(connectionName(c))},
                       {"protocol", q(c.protocol)},
                       {"listener", q(c.listener)},
                       {"type", c.outbound ? "outbound" : "network"},
                       {"ssl", c.tls},
                       {"peer_host", q(peerHost)},
                       {"peer_port", peerPort},
                       {"host", q(host)},
                       {"port", port},
                       {"user", q(c.identity.user)},
                       {"vhost", q(c.identity.vhost.empty() ? std::string("/") : c.identity.vhost)},
                       {"client", q(c.identity.client)},
                       {"channels", static_cast<qint64>(c.identity.channels)},
                       {"connected_at", static_cast<qint64>(c.connectedAtMs)},
                       {"recv_oct", static_cast<qint64>(c.bytesIn)},
                       {"send_oct", static_cast<qint64>(c.bytesOut)},
                       {"recv_oct_details", QJsonObject{{"rate", recvRate}}},
                       {"send_oct_details", QJsonObject{{"rate", sendRate}}}};
}

// A management user sees the connections of the vhosts it may use; administrators and monitoring users all.
bool connectionVisible(const AdminRoutes &r, const AdminCall &call, const ConnectionSnapshot &c)
{
    return visible(r, call, c.identity.vhost.empty() ? std::string("/") : c.identity.vhost);
}

// The connection named by call.params[0] (its name or id); false (and 404 answered) when there is none.
bool findConnection(const AdminRoutes &r, AdminCall &call, ConnectionSnapshot *out)
{
    const std::string &key = call.params[0];
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    const bool numeric = ec == std::errc() && end == key.data() + key.size();
    for (const ConnectionSnapshot &c : r.context().network->connections())
        if (((numeric && c.id == id) || connectionName(c) == key) && connectionVisible(r, call, c)) {
            *out = c;
            return true;
        }
    call.respond(jsonError(404, "not_found", "no connection '" + key + "'"));
    return false;
}

// The admin API's own connections are listed too (protocol "admin"), as RabbitMQ does not; ?protocol=amqp filters.
void listConnections(const AdminRoutes &r, AdminCall &call)
{
    const auto it = call.request.query.find("protocol");
    QJsonArray out;
    for (const ConnectionSnapshot &c : r.context().network->connections())
        if (connectionVisible(r, call, c) && (it == call.request.query.end() || it->second == c.protocol))
            out.append(connectionJson(r, c));
    call.respond(json(200, out));
}

void getConnection(const AdminRoutes &r, AdminCall &call)
{
    ConnectionSnapshot c;
    if (findConnection(r, call, &c))
        call.respond(json(200, connectionJson(r, c)));
}

void closeConnection(const AdminRoutes &r, AdminCall &call)
{
    ConnectionSnapshot c;
    if (!findConnection(r, call, &c))
        return;
    const auto it = call.request.headers.find("x-reason");
    const std::string reason = "closed by user '" + call.user + "'" +
                               (it != call.request.headers.end() && !it->second.empty() ? ": " + it->second : "");
    logChange(call, "close connection " + connectionName(c));
    if (!r.context().network->closeConnection(c.id, reason)) {
        call.respond(jsonError(404, "not_found", "connection '" + call.params[0] + "' closed meanwhile"));
        return;
    }
    call.respond(noContent());
}

// RabbitMQ's channel: "<connection name> (<number>)" with its connection's details.
QJsonObject channelJson(const ConnectionSnapshot &c, const ferry_channel_info &ch)
{
    return QJsonObject{{"name", q(connectionName(c) + " (" + std::to_string(ch.number) + ")")},
                       {"number", static_cast<qint64>(ch.number)},
                       {"connection_details", QJsonObject{{"name", q(connectionName(c))},
                                                          {"id", static_cast<qint64>(c.id)},
                                                          {"peer_host", q(hostPort(c.peer).first)},
                                                          {"peer_port", hostPort(c.peer).second}}},
                       {"protocol", q(c.protocol)},
                       {"user", q(c.identity.user)},
                       {"vhost", q(c.identity.vhost.empty() ? std::string("/") : c.identity.vhost)},
                       {"consumer_count", static_cast<qint64>(ch.consumers)},
                       {"messages_unacknowledged", static_cast<qint64>(ch.unacked)},
                       {"messages_unconfirmed", static_cast<qint64>(ch.unconfirmed)},
                       {"prefetch_count", static_cast<qint64>(ch.prefetch)},
                       {"global_prefetch_count", static_cast<qint64>(ch.global_prefetch)},
                       {"confirm", ch.confirm != 0},
                       {"transactional", ch.transactional != 0}};
}

// Every channel (or those of the connection in call.params[0]).
void listChannels(const AdminRoutes &r, AdminCall &call)
{
    std::optional<uint64_t> only;
    if (!call.params.empty()) {
        ConnectionSnapshot c;
        if (!findConnection(r, call, &c))
            return;
        only = c.id;
    }
    std::map<uint64_t, ConnectionSnapshot> connections;
    for (const ConnectionSnapshot &c : r.context().network->connections())
        if (connectionVisible(r, call, c) && (!only || c.id == *only))
            connections.emplace(c.id, c);
    r.context().network->listChannels(
        [connections = std::move(connections), respond = call.respond](std::vector<ChannelSnapshot> channels) {
            QJsonArray out;
            for (const ChannelSnapshot &ch : channels)
                if (auto it = connections.find(ch.connectionId); it != connections.end())
                    out.append(channelJson(it->second, ch.info));
            respond(json(200, out));
        });
}

} // namespace

void addConnectionRoutes(const AddRoute &add)
{
    add("GET", "/api/v1/channels", Access::Read, listChannels);
    add("GET", "/api/v1/connections/{}/channels", Access::Read, listChannels);
    add("GET", "/api/v1/connections", Access::Read, listConnections);
    add("GET", "/api/v1/connections/{}", Access::Read, getConnection);
    add("DELETE", "/api/v1/connections/{}", Access::Administer, closeConnection);
}

} // namespace ferry::admin
