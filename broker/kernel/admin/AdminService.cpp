#include "admin/AdminService.h"

#include "admin/AdminRoutes.h"
#include "admin/HttpCodec.h"
#include "auth/AuthRegistry.h"
#include "broker/BrokerSettings.h"
#include "log/Logging.h"
#include "net/NetworkServer.h"
#include "net/TlsConfig.h"
#include "plugin/PluginHost.h"
#include "queue/ConnectionLink.h"
#include "sched/Scheduler.h"

#include <QByteArray>

#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

namespace ferry::admin {

namespace {

constexpr uint32_t kRateIntervalMs = 5000;

const ferry_listener_spec kListeners[] = {
    {sizeof(ferry_listener_spec), "listen", "127.0.0.1:15680", "admin API (HTTP + JSON) and /metrics"},
};

} // namespace

struct AdminService::Impl {
    AdminContext context;
    RateSampler rates;
    AdminRoutes routes{context, rates};
    LoadedPlugin plugin;
    const ferry_protocol_host *host = nullptr;
    std::atomic<bool> stopping{false};
    std::mutex timerMutex;
    uint64_t rateTimer = 0;

    explicit Impl(AdminContext c) : context(std::move(c)) {}
    ferry_protocol *instance() { return reinterpret_cast<ferry_protocol *>(this); }
    static Impl *from(ferry_protocol *p) { return reinterpret_cast<Impl *>(p); }

    void armRates()
    {
        std::lock_guard lock(timerMutex);
        if (stopping.load())
            return;
        rateTimer = context.scheduler->after(kRateIntervalMs, [this] {
            rates.sample(context);
            armRates();
        });
    }
};

namespace {

// One HTTP connection. Requests are answered in order: while one is being handled, later bytes wait in pending_.
class AdminSession {
public:
    AdminSession(AdminService::Impl &svc, ferry_conn *conn)
        : svc_(svc), conn_(conn), reader_(svc.context.settings->admin.maxBodyBytes)
    {
        Connection *c = Connection::fromHandle(conn);
        link_ = std::make_shared<ConnectionLink>(c);
        c->addCloseHook([link = link_] { link->markClosed(); });
        char buf[256] = {};
        svc.host->peer_address(conn, buf, sizeof buf);
        peer_ = buf;
    }

    ferry_status read(const uint8_t *data, size_t len, size_t *consumed)
    {
        *consumed = len;
        if (busy_ || closing_) {
            pending_.append(reinterpret_cast<const char *>(data), len);
            return FERRY_OK;
        }
        process(data, len);
        return FERRY_OK;
    }

private:
    void process(const uint8_t *data, size_t len)
    {
        size_t at = 0;
        while (!busy_ && !closing_) {
            std::optional<HttpRequest> request;
            const size_t used = reader_.feed(data + at, len - at, &request);
            if (!reader_.error().empty()) {
                HttpResponse r = jsonError(reader_.errorStatus(), "bad_request", "malformed HTTP: " + reader_.error());
                write(r, false);
                return;
            }
            at += used;
            if (request)
                handle(std::move(*request));
            else if (at >= len || used == 0)
                break;
        }
        if (at < len)
            pending_.append(reinterpret_cast<const char *>(data) + at, len - at);
    }

    void handle(HttpRequest request)
    {
        busy_ = true;
        keepAlive_ = request.keepAlive;
        std::string user, why;
        if (!authenticate(request, &user, &why)) {
            HttpResponse r = jsonError(401, "not_authorised", why);
            r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"ferry\"");
            respond(r);
            return;
        }
        AdminCall call;
        call.user = std::move(user);
        call.peer = peer_;
        call.request = std::move(request);
        auto once = std::make_shared<std::atomic<bool>>(false);
        call.respond = [link = link_, once, head = call.request.method == "HEAD"](HttpResponse r) {
            if (once->exchange(true))
                return;
            if (head)
                r.body.clear();
            link->post([r = std::move(r)](Connection &c) {
                static_cast<AdminSession *>(reinterpret_cast<void *>(c.session()))->respond(r);
            });
        };
        const std::string what = call.request.method + " " + call.request.target;
        auto respondOnce = call.respond;
        try {
            svc_.routes.dispatch(std::move(call));
        } catch (const std::exception &e) {
            kernelLogger()->error("admin: {} failed: {}", what, e.what());
            respondOnce(jsonError(500, "internal_error", e.what()));
        }
    }

    bool authenticate(const HttpRequest &request, std::string *user, std::string *why)
    {
        const std::string header = request.header("authorization");
        if (header.rfind("Basic ", 0) != 0) {
            *why = "credentials required (HTTP Basic authentication with a broker user)";
            return false;
        }
        const QByteArray decoded = QByteArray::fromBase64(QByteArray::fromStdString(header.substr(6)));
        const qsizetype colon = decoded.indexOf(':');
        if (colon < 0) {
            *why = "malformed Basic credentials";
            return false;
        }
        *user = decoded.left(colon).toStdString();
        const std::string password = decoded.mid(colon + 1).toStdString();
        std::string host = peer_.substr(0, peer_.rfind(':'));
        if (host.size() >= 2 && host.front() == '[')
            host = host.substr(1, host.size() - 2);
        if (svc_.context.auth->authenticate(*user, password, host, why) != FERRY_OK) {
            kernelLogger()->warn("admin: refused {} {} from {}: {}", request.method, request.target, peer_, *why);
            return false;
        }
        return true;
    }

    void write(const HttpResponse &r, bool keepAlive)
    {
        const std::string bytes = serializeResponse(r, keepAlive);
        svc_.host->write(conn_, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
        if (!keepAlive) {
            closing_ = true;
            svc_.host->close(conn_, "admin: response sent");
        }
    }

public:
    // On the connection's thread: writes the answer, then goes on with what arrived meanwhile.
    void respond(const HttpResponse &r)
    {
        write(r, keepAlive_);
        busy_ = false;
        if (!closing_ && !pending_.empty()) {
            std::string more;
            more.swap(pending_);
            process(reinterpret_cast<const uint8_t *>(more.data()), more.size());
        }
    }

private:
    AdminService::Impl &svc_;
    ferry_conn *conn_;
    ConnectionLinkPtr link_;
    HttpRequestReader reader_;
    std::string peer_;
    std::string pending_;
    bool busy_ = false;
    bool keepAlive_ = true;
    bool closing_ = false;
};

ferry_status onOpen(ferry_protocol *instance, ferry_conn *conn, uint32_t, ferry_session **out)
{
    *out = reinterpret_cast<ferry_session *>(new AdminSession(*AdminService::Impl::from(instance), conn));
    return FERRY_OK;
}

ferry_status onRead(ferry_session *session, const uint8_t *data, size_t len, size_t *consumed)
{
    return reinterpret_cast<AdminSession *>(session)->read(data, len, consumed);
}

void onClose(ferry_session *session, int32_t) { delete reinterpret_cast<AdminSession *>(session); }

} // namespace

AdminService::AdminService(AdminContext context) : impl_(std::make_unique<Impl>(std::move(context)))
{
    Impl &d = *impl_;
    initBuiltinProtocol(d.plugin, "admin", "the kernel's admin API", kListeners, 1);
    d.plugin.protocol.on_open = onOpen;
    d.plugin.protocol.on_read = onRead;
    d.plugin.protocol.on_close = onClose;
}

AdminService::~AdminService() { stop(); }

bool AdminService::start(const ferry_protocol_host *host, std::string *error)
{
    Impl &d = *impl_;
    d.host = host;
    d.rates.sample(d.context);
    d.armRates();
    const std::string &address = d.context.settings->admin.listen;
    if (address.empty()) {
        kernelLogger()->info("admin.listen is empty: admin API off");
        return true;
    }
    ListenerSpec spec{address, &d.plugin, d.instance(), 0, "admin.listen"};
    const AdminSettings &admin = d.context.settings->admin;
    if (!admin.tlsCertFile.empty()) {
        std::string why;
        spec.tls = net::loadTlsConfig(admin.tlsCertFile, admin.tlsKeyFile, &why);
        if (!spec.tls) {
            *error = "admin.tls_cert_file / admin.tls_key_file: " + why;
            return false;
        }
        kernelLogger()->info("admin.listen: TLS with the certificate in {}", admin.tlsCertFile);
    }
    return d.context.network->listen(spec, error);
}

void AdminService::stop()
{
    Impl &d = *impl_;
    if (d.stopping.exchange(true))
        return;
    std::lock_guard lock(d.timerMutex);
    if (d.rateTimer != 0)
        d.context.scheduler->cancel(d.rateTimer);
}

} // namespace ferry::admin
