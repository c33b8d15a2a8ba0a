// ConnectionLink: the kernel core's safe way to reach a connection from other threads (queues, the storage thread,
// the scheduler). A Connection object may be destroyed once its close hooks have run; a link is marked dead by the
// close hook under its own mutex, so post() either reaches a live connection or drops the work.
// Threading: post() from any thread; markClosed() from the connection's close hook. The mutex is a leaf lock.
#pragma once

#include "net/NetworkServer.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace ferry {

class ConnectionLink {
public:
    explicit ConnectionLink(Connection *conn) : conn_(conn), id_(conn->id()) {}

    uint64_t id() const { return id_; }

    // Runs fn(conn) on the connection's thread if it is still open when fn gets there.
    void post(std::function<void(Connection &)> fn)
    {
        std::lock_guard lock(mutex_);
        if (conn_ == nullptr)
            return;
        Connection *c = conn_;
        c->post([c, fn = std::move(fn)] { fn(*c); });
    }

    bool open() const
    {
        std::lock_guard lock(mutex_);
        return conn_ != nullptr;
    }

    void markClosed()
    {
        std::lock_guard lock(mutex_);
        conn_ = nullptr;
    }

private:
    mutable std::mutex mutex_;
    Connection *conn_;
    uint64_t id_;
};

using ConnectionLinkPtr = std::shared_ptr<ConnectionLink>;

} // namespace ferry
