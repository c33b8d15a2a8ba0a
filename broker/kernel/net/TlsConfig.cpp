#include "net/TlsConfig.h"

#include "net/TlsConfigImpl.h"

#include <QFile>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslSocket>

namespace ferry::net {

std::shared_ptr<const TlsConfig> loadTlsConfig(const std::string &certFile, const std::string &keyFile,
                                               std::string *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = "TLS is not available: Qt has no TLS backend here (" +
                 QSslSocket::activeBackend().toStdString() + ")";
        return nullptr;
    }
    const auto read = [&](const std::string &path, QByteArray *out) {
        QFile file(QString::fromStdString(path));
        if (!file.open(QIODevice::ReadOnly)) {
            *error = "cannot read " + path + ": " + file.errorString().toStdString();
            return false;
        }
        *out = file.readAll();
        return true;
    };
    QByteArray certPem, keyPem;
    if (!read(certFile, &certPem) || !read(keyFile, &keyPem))
        return nullptr;
    const QList<QSslCertificate> chain = QSslCertificate::fromData(certPem, QSsl::Pem);
    if (chain.isEmpty() || chain.front().isNull()) {
        *error = certFile + " holds no PEM certificate";
        return nullptr;
    }
    QSslKey key(keyPem, QSsl::Rsa, QSsl::Pem);
    if (key.isNull())
        key = QSslKey(keyPem, QSsl::Ec, QSsl::Pem);
    if (key.isNull()) {
        *error = keyFile + " holds no unencrypted PEM private key (RSA or EC)";
        return nullptr;
    }
    auto config = std::make_shared<TlsConfig>();
    config->configuration = QSslConfiguration::defaultConfiguration();
    config->configuration.setLocalCertificateChain(chain);
    config->configuration.setPrivateKey(key);
    config->configuration.setPeerVerifyMode(QSslSocket::VerifyNone); // clients authenticate in the protocol
    config->configuration.setProtocol(QSsl::TlsV1_2OrLater);
    return config;
}

} // namespace ferry::net
