// NetLog: the network layer's logger and small text helpers shared by its files. Internal to broker/kernel/net.
#pragma once

#include "log/Logging.h"

#include <ferry/ferry_plugin.h>

#include <QHostAddress>

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace ferry::net {

// The kernel logger (ferry::kernelLogger). Looked up per call: the network layer logs only on rare events
// (refusals, errors, limits), never per message.
inline std::shared_ptr<spdlog::logger> logger()
{
    return ferry::kernelLogger();
}

// "FERRY_E_PROTOCOL" etc. for log lines; "status <n>" for codes this kernel does not know.
inline std::string statusName(ferry_status status)
{
    switch (status) {
    case FERRY_OK: return "FERRY_OK";
    case FERRY_E_INVALID_ARGUMENT: return "FERRY_E_INVALID_ARGUMENT";
    case FERRY_E_NOT_FOUND: return "FERRY_E_NOT_FOUND";
    case FERRY_E_ALREADY_EXISTS: return "FERRY_E_ALREADY_EXISTS";
    case FERRY_E_IO: return "FERRY_E_IO";
    case FERRY_E_CORRUPT: return "FERRY_E_CORRUPT";
    case FERRY_E_UNSUPPORTED: return "FERRY_E_UNSUPPORTED";
    case FERRY_E_NO_SPACE: return "FERRY_E_NO_SPACE";
    case FERRY_E_TOO_LARGE: return "FERRY_E_TOO_LARGE";
    case FERRY_E_CLOSED: return "FERRY_E_CLOSED";
    case FERRY_E_ABI_MISMATCH: return "FERRY_E_ABI_MISMATCH";
    case FERRY_E_INTERNAL: return "FERRY_E_INTERNAL";
    case FERRY_E_PROTOCOL: return "FERRY_E_PROTOCOL";
    case FERRY_E_ACCESS_DENIED: return "FERRY_E_ACCESS_DENIED";
    case FERRY_E_BUSY: return "FERRY_E_BUSY";
    case FERRY_E_NO_MEMORY: return "FERRY_E_NO_MEMORY";
    case FERRY_E_TIMEOUT: return "FERRY_E_TIMEOUT";
    case FERRY_E_CONFIG: return "FERRY_E_CONFIG";
    default: return "status " + std::to_string(status);
    }
}

// "host:port", IPv6 hosts in brackets ("[::1]:5672"). IPv4-mapped IPv6 addresses (a dual-stack listener's peers)
// are shown as plain IPv4 when unmapIPv4 is set.
inline std::string formatHostPort(const QHostAddress &address, quint16 port, bool unmapIPv4)
{
    QHostAddress shown = address;
    if (unmapIPv4 && shown.protocol() == QAbstractSocket::IPv6Protocol) {
        bool isMapped = false;
        const quint32 v4 = shown.toIPv4Address(&isMapped);
        if (isMapped)
            shown = QHostAddress(v4);
    }
    std::string host = shown.toString().toStdString();
    if (shown.protocol() == QAbstractSocket::IPv6Protocol)
        host = "[" + host + "]";
    return host + ":" + std::to_string(port);
}

} // namespace ferry::net
