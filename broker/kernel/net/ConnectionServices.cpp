// The connection members of ferry_protocol_host: write, close, set_timer, cancel_timer, peer_address, conn_id,
// set_read_paused.
// Contract (ferry_protocol.h): called from inside a hook of the same connection, hence on its thread. A call from
// another thread, or with a handle that is not a network connection, is refused (FERRY_E_INVALID_ARGUMENT) and logged.
#include "net/NetLog.h"
#include "net/NetworkServer.h"
#include "net/TcpConnection.h"

#include <algorithm>
#include <cstring>

namespace ferry {

namespace {

// The TcpConnection behind a handle, when it is one and we are on its thread.
net::TcpConnection *connectionFor(ferry_conn *conn, const char *service)
{
    if (conn == nullptr) {
        net::logger()->error("protocol host {}: null connection handle", service);
        return nullptr;
    }
    auto *connection = dynamic_cast<net::TcpConnection *>(Connection::fromHandle(conn));
    if (connection == nullptr) {
        net::logger()->error("protocol host {}: handle is not a network connection", service);
        return nullptr;
    }
    if (!connection->onOwnThread()) {
        net::logger()->error("protocol host {}: called for connection {} from another thread (hooks only)", service,
                             connection->id());
        return nullptr;
    }
    return connection;
}

ferry_status hostWrite(ferry_conn *conn, const uint8_t *data, size_t len)
{
    auto *connection = connectionFor(conn, "write");
    return connection != nullptr ? connection->serviceWrite(data, len) : FERRY_E_INVALID_ARGUMENT;
}

void hostClose(ferry_conn *conn, const char *reason)
{
    if (auto *connection = connectionFor(conn, "close"))
        connection->serviceClose(reason);
}

ferry_status hostSetTimer(ferry_conn *conn, uint64_t timerId, uint32_t delayMs)
{
    auto *connection = connectionFor(conn, "set_timer");
    return connection != nullptr ? connection->serviceSetTimer(timerId, delayMs) : FERRY_E_INVALID_ARGUMENT;
}

ferry_status hostCancelTimer(ferry_conn *conn, uint64_t timerId)
{
    auto *connection = connectionFor(conn, "cancel_timer");
    return connection != nullptr ? connection->serviceCancelTimer(timerId) : FERRY_E_INVALID_ARGUMENT;
}

ferry_status hostPeerAddress(ferry_conn *conn, char *buf, size_t cap)
{
    auto *connection = connectionFor(conn, "peer_address");
    return connection != nullptr ? connection->servicePeerAddress(buf, cap) : FERRY_E_INVALID_ARGUMENT;
}

ferry_status hostSetReadPaused(ferry_conn *conn, int32_t paused)
{
    auto *connection = connectionFor(conn, "set_read_paused");
    return connection != nullptr ? connection->serviceSetReadPaused(paused != 0) : FERRY_E_INVALID_ARGUMENT;
}

ferry_status hostSetConnIdentity(ferry_conn *conn, const ferry_conn_identity *identity)
{
    auto *connection = connectionFor(conn, "set_conn_identity");
    if (connection == nullptr || identity == nullptr || identity->struct_size < sizeof(uint32_t))
        return FERRY_E_INVALID_ARGUMENT;
    // A caller built against a shorter struct: the members it lacks are zero.
    ferry_conn_identity full{};
    std::memcpy(&full, identity, std::min<size_t>(identity->struct_size, sizeof full));
    return connection->serviceSetIdentity(full);
}

uint64_t hostConnId(ferry_conn *conn)
{
    return conn != nullptr ? Connection::fromHandle(conn)->id() : 0;
}

} // namespace

void fillConnectionServices(ferry_protocol_host *table)
{
    if (table == nullptr)
        return;
    table->write = &hostWrite;
    table->close = &hostClose;
    table->set_timer = &hostSetTimer;
    table->cancel_timer = &hostCancelTimer;
    table->peer_address = &hostPeerAddress;
    table->conn_id = &hostConnId;
    table->set_read_paused = &hostSetReadPaused;
    table->set_conn_identity = &hostSetConnIdentity;
}

} // namespace ferry
