// TlsConfig's definition, for the network layer's own files (IoWorker makes the sockets).
#pragma once

#include "net/TlsConfig.h"

#include <QSslConfiguration>

namespace ferry::net {

struct TlsConfig {
    QSslConfiguration configuration;
};

} // namespace ferry::net
