// The kernel tests' stand-in for a protocol plugin's connection: no socket, post() runs on the test thread's event
// loop, and every delivery and result is recorded. Shared by tst_queue and tst_router.
#pragma once

#include "net/NetworkServer.h"
#include "plugin/PluginHost.h"
#include "queue/Message.h"

#include <QCoreApplication>
#include <QMetaObject>

#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace ferry;

namespace {

// What a fake protocol plugin saw on one connection.
struct Recorder {
    struct Got {
        uint64_t subscription;
        std::string queue;
        std::string exchange;
        std::string properties;
        uint64_t correlation;
        uint64_t offset;
        uint32_t deliveryCount;
        bool redelivered;
        std::string body;
    };
    std::vector<Got> deliveries;
    std::vector<ferry_result> results;
    std::vector<std::string> resultTexts;
};

void onDelivery(ferry_session *s, const ferry_delivery *d)
{
    auto *r = reinterpret_cast<Recorder *>(s);
    r->deliveries.push_back({d->subscription_id, std::string(d->queue, d->queue_len),
                             std::string(d->message->exchange ? d->message->exchange : "", d->message->exchange_len),
                             std::string(reinterpret_cast<const char *>(d->message->properties),
                                         d->message->properties_len),
                             d->correlation_id, d->offset, d->delivery_count,
                             (d->flags & FERRY_DELIVERY_REDELIVERED) != 0,
                             std::string(reinterpret_cast<const char *>(d->message->body), d->message->body_len)});
}

void onResult(ferry_session *s, const ferry_result *res)
{
    auto *r = reinterpret_cast<Recorder *>(s);
    r->results.push_back(*res);
    r->resultTexts.emplace_back(res->text ? std::string(res->text, res->text_len) : std::string());
}

ferry_protocol_vtable fakeProtocol()
{
    ferry_protocol_vtable vt{};
    vt.struct_size = sizeof vt;
    vt.on_delivery = onDelivery;
    vt.on_result = onResult;
    return vt;
}

// A connection without a socket: post() runs on the test thread's event loop.
class TestConnection : public Connection {
public:
    TestConnection(uint64_t id, const LoadedPlugin &plugin) : id_(id), plugin_(plugin), vt_(fakeProtocol()) {}
    uint64_t id() const override { return id_; }
    const LoadedPlugin &plugin() const override { return plugin_; }
    std::string peerAddress() const override { return "test:0"; }
    void post(std::function<void()> fn) override
    {
        QMetaObject::invokeMethod(qApp, std::move(fn), Qt::QueuedConnection);
    }
    ferry_session *session() const override { return reinterpret_cast<ferry_session *>(&recorder); }
    const ferry_protocol_vtable &protocol() const override { return vt_; }
    void addCloseHook(std::function<void()> fn) override { hooks_.push_back(std::move(fn)); }
    bool writeBlocked() const override { return false; }

    mutable Recorder recorder;

private:
    uint64_t id_;
    const LoadedPlugin &plugin_;
    ferry_protocol_vtable vt_;
    std::vector<std::function<void()>> hooks_;
};

inline std::shared_ptr<Message> textMessage(const std::string &body, bool persistent = true)
{
    auto m = std::make_shared<Message>();
    m->body = body;
    m->flags = persistent ? FERRY_MESSAGE_PERSISTENT : 0;
    m->originProtocol = "test";
    return m;
}

} // namespace
