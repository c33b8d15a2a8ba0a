// TlsConfig: a listener's TLS server settings (certificate chain and private key, PEM files), loaded and checked
// once when the listener opens; every connection it accepts then runs TLS (Qt's QSslSocket, OpenSSL backend) before
// its bytes reach the protocol, which never sees the difference.
// Threading: immutable once loaded; shared by the listener's connections on every event-loop thread.
#pragma once

#include <memory>
#include <string>

namespace ferry::net {

struct TlsConfig;

// Reads certFile (PEM: the server certificate, then any intermediates) and keyFile (PEM private key, RSA or EC,
// unencrypted). nullptr with *error ("cannot read /etc/ferry/admin.pem: ...", "TLS is not available: ...").
std::shared_ptr<const TlsConfig> loadTlsConfig(const std::string &certFile, const std::string &keyFile,
                                               std::string *error);

} // namespace ferry::net
