#include "net/TcpConnection.h"

#include "net/IoWorker.h"
#include "net/NetLog.h"
#include "plugin/PluginHost.h"

#include <QMetaObject>
#include <QTcpSocket>
#include <QThread>
#include <QDateTime>
#include <QTimer>

#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>

namespace ferry::net {

namespace {

std::atomic<uint64_t> nextConnectionId{1};

// Qt reads at most this much from the OS ahead of the plugin; beyond it TCP flow control pushes back on the peer.
constexpr qint64 socketReadBufferBytes = 256 * 1024;

int clampDelay(uint64_t ms)
{
    return static_cast<int>(std::min<uint64_t>(ms, static_cast<uint64_t>(INT_MAX)));
}

} // namespace

thread_local TcpConnection *TcpConnection::inHookOnThisThread = nullptr;

TcpConnection::TcpConnection(IoWorker *worker, std::shared_ptr<ServerContext> context,
                             std::shared_ptr<const ListenerSpec> listener, QTcpSocket *socket)
    : QObject(worker),
      worker_(worker),
      context_(std::move(context)),
      listener_(std::move(listener)),
      socket_(socket),
      id_(nextConnectionId.fetch_add(1, std::memory_order_relaxed)),
      thread_(QThread::currentThread())
{
    socket_->setParent(this);
    socket_->setReadBufferSize(socketReadBufferBytes);
    peer_ = formatHostPort(socket_->peerAddress(), socket_->peerPort(), true);
    local_ = formatHostPort(socket_->localAddress(), socket_->localPort(), true);
    connectedAtMs_ = static_cast<uint64_t>(QDateTime::currentMSecsSinceEpoch());

    idleTimer_ = new QTimer(this);
    idleTimer_->setSingleShot(true);
    QObject::connect(idleTimer_, &QTimer::timeout, this, [this] { onIdleTimeout(); });
    closeFlushTimer_ = new QTimer(this);
    closeFlushTimer_->setSingleShot(true);
    QObject::connect(closeFlushTimer_, &QTimer::timeout, this, [this] {
        logger()->warn("{}: output not flushed within {} ms after close; dropping it", describe(),
                       context_->limits.closeFlushTimeoutMs);
        finalize();
    });

    QObject::connect(socket_, &QTcpSocket::readyRead, this, [this] { onReadyRead(); });
    QObject::connect(socket_, &QTcpSocket::bytesWritten, this, [this](qint64) { onBytesWritten(); });
    QObject::connect(socket_, &QTcpSocket::disconnected, this, [this] { onDisconnected(); });
    QObject::connect(socket_, &QTcpSocket::errorOccurred, this,
                     [this](QAbstractSocket::SocketError error) { onSocketError(error); });
    context_->connectionCount.fetch_add(1, std::memory_order_acq_rel);
    std::lock_guard lock(context_->registryMutex);
    context_->registry.emplace(id_, this);
}

TcpConnection::~TcpConnection() = default;

const ferry_protocol_vtable &TcpConnection::protocol() const
{
    return listener_->plugin->protocol;
}

std::string TcpConnection::describe() const
{
    return listener_->plugin->name + " connection " + std::to_string(id_) + (outbound() ? " to " : " from ") + peer_;
}

bool TcpConnection::onOwnThread() const
{
    return QThread::currentThread() == thread_.load(std::memory_order_acquire);
}

// ---- opening -------------------------------------------------------------------------------------------------

void TcpConnection::open()
{
    ferry_session *session = nullptr;
    ferry_status status;
    {
        HookScope scope(*this);
        if (outbound())
            status = protocol().on_connect(listener_->instance, handle(), listener_->connectTag, FERRY_OK, nullptr,
                                           &session);
        else
            status = protocol().on_open(listener_->instance, handle(), listener_->listenerIndex, &session);
    }
    if (status != FERRY_OK) {
        logger()->info("{}: refused by on_open ({}); closing", describe(), statusName(status));
        finalize(); // no session: no on_close
        return;
    }
    session_ = session;
    sessionOpen_ = true;
    if (state_ == State::Opening) { // not closed from inside on_open
        state_ = State::Open;
        restartIdleTimer();
        if (socket_->bytesAvailable() > 0)
            queueProcessInput();
    }
}

// ---- input ---------------------------------------------------------------------------------------------------

void TcpConnection::onReadyRead()
{
    if (state_ != State::Open)
        return;
    if (!readStopped())
        restartIdleTimer();
    processInput();
}

void TcpConnection::queueProcessInput()
{
    if (processQueued_)
        return;
    processQueued_ = true;
    QMetaObject::invokeMethod(
        this,
        [this] {
            processQueued_ = false;
            processInput();
        },
        Qt::QueuedConnection);
}

void TcpConnection::processInput()
{
    if (state_ != State::Open)
        return;
    if (inHook_) { // never call on_read re-entrantly
        queueProcessInput();
        return;
    }
    const uint64_t maxFrame = context_->limits.maxFrameBytes;
    for (;;) {
        offerInput();
        if (state_ != State::Open || readStopped())
            return; // closing, back-pressure or paused by the plugin: leave the rest in input_ and in the socket
        // Here the plugin has seen every byte of input_ and wants more (or input_ is empty).
        if (maxFrame != 0 && static_cast<uint64_t>(input_.size()) > maxFrame) {
            logger()->warn("{}: {} unconsumed bytes exceed network.max_frame_bytes = {}; closing", describe(),
                           input_.size(), maxFrame);
            beginClose(FERRY_CLOSE_PROTOCOL);
            return;
        }
        const qint64 available = socket_->bytesAvailable();
        if (available <= 0)
            return;
        qint64 want = std::min(available, socketReadBufferBytes);
        if (maxFrame != 0) // read no more than it takes to exceed the limit by one byte
            want = std::min<qint64>(want, static_cast<qint64>(maxFrame + 1 - input_.size()));
        const QByteArray chunk = socket_->read(want);
        if (chunk.isEmpty())
            return;
        bytesIn_.fetch_add(static_cast<uint64_t>(chunk.size()), std::memory_order_relaxed);
        input_.append(chunk);
    }
}

void TcpConnection::offerInput()
{
    const auto onRead = protocol().on_read;
    qsizetype offset = 0;
    bool stalled = false;
    while (state_ == State::Open && !readStopped() && offset < input_.size()) {
        const size_t remaining = static_cast<size_t>(input_.size() - offset);
        if (offset == 0 && stalledInputSize_ != 0 && remaining <= stalledInputSize_) {
            stalled = true; // already offered exactly these bytes; wait for more
            break;
        }
        size_t consumed = 0;
        ferry_status status;
        {
            HookScope scope(*this);
            status = onRead(session_, reinterpret_cast<const uint8_t *>(input_.constData()) + offset, remaining,
                            &consumed);
        }
        if (consumed > remaining) {
            logger()->error("{}: on_read consumed {} of {} bytes offered; treating as a plugin error", describe(),
                            consumed, remaining);
            consumed = remaining;
            if (status == FERRY_OK)
                status = FERRY_E_INTERNAL;
        }
        offset += static_cast<qsizetype>(consumed);
        if (status != FERRY_OK) {
            logger()->warn("{}: on_read returned {}; closing", describe(), statusName(status));
            beginClose(FERRY_CLOSE_PROTOCOL);
            break;
        }
        if (consumed == 0) {
            stalled = true;
            break;
        }
    }
    if (offset > 0)
        input_.remove(0, offset);
    stalledInputSize_ = stalled ? static_cast<size_t>(input_.size()) : 0;
}

// ---- output and back-pressure --------------------------------------------------------------------------------

void TcpConnection::updateWriteBlocked()
{
    const uint64_t limit = context_->limits.maxPendingWriteBytes;
    const bool blocked = limit != 0 && static_cast<uint64_t>(socket_->bytesToWrite()) > limit;
    if (blocked == writeBlocked())
        return;
    writeBlocked_.store(blocked, std::memory_order_release);
    if (blocked) {
        // We stop reading, so the peer's silence is no longer observable: the idle clock pauses meanwhile.
        idleTimer_->stop();
        logger()->debug("{}: {} bytes pending output; reading paused", describe(), socket_->bytesToWrite());
    } else if (state_ == State::Open && !readPaused_) {
        logger()->debug("{}: output drained; reading resumed", describe());
        restartIdleTimer();
        // Bytes already in Qt's buffer raise no new readyRead: pick them up ourselves.
        queueProcessInput();
    }
}

ferry_status TcpConnection::serviceSetReadPaused(bool paused)
{
    if (!accepting())
        return FERRY_E_CLOSED;
    if (paused == readPaused_)
        return FERRY_OK;
    readPaused_ = paused;
    if (paused) {
        idleTimer_->stop(); // as with back-pressure: the peer's silence means nothing while we do not read
        logger()->debug("{}: reading paused by the plugin", describe());
    } else if (state_ == State::Open) {
        logger()->debug("{}: reading resumed by the plugin", describe());
        stalledInputSize_ = 0; // offer what the plugin left unconsumed again, without waiting for new bytes
        if (!writeBlocked())
            restartIdleTimer();
        queueProcessInput();
    }
    return FERRY_OK;
}

void TcpConnection::alarm(uint32_t alarms)
{
    post([this, alarms] {
        if (const auto onAlarm = protocol().on_alarm)
            onAlarm(session_, alarms);
    });
}

void TcpConnection::onBytesWritten()
{
    if (writeBlocked())
        updateWriteBlocked();
}

ferry_status TcpConnection::serviceWrite(const uint8_t *data, size_t len)
{
    if (!accepting() || socket_->state() != QAbstractSocket::ConnectedState)
        return FERRY_E_CLOSED;
    if (len == 0)
        return FERRY_OK;
    if (data == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    // QTcpSocket::write copies into the socket's send buffer (the one copy) and flushes from the event loop.
    const qint64 written = socket_->write(reinterpret_cast<const char *>(data), static_cast<qint64>(len));
    if (written != static_cast<qint64>(len)) {
        logger()->warn("{}: write of {} bytes failed: {}", describe(), len, socket_->errorString().toStdString());
        return FERRY_E_IO;
    }
    bytesOut_.fetch_add(len, std::memory_order_relaxed);
    updateWriteBlocked();
    return FERRY_OK;
}

ferry_status TcpConnection::serviceSetIdentity(const ferry_conn_identity &identity)
{
    const auto text = [](const char *p, size_t n) { return p != nullptr ? std::string(p, n) : std::string(); };
    std::lock_guard lock(identityMutex_);
    identity_.user = text(identity.user, identity.user_len);
    identity_.vhost = text(identity.vhost, identity.vhost_len);
    identity_.client = text(identity.client, identity.client_len);
    identity_.channels = identity.channels;
    return FERRY_OK;
}

ConnectionSnapshot TcpConnection::snapshot() const
{
    ConnectionSnapshot s;
    s.id = id_;
    s.protocol = listener_->plugin != nullptr ? listener_->plugin->name : std::string();
    s.listener = listener_->configKey;
    s.peer = peer_;
    s.local = local_;
    s.outbound = listener_->outbound;
    s.tls = listener_->tls != nullptr;
    s.connectedAtMs = connectedAtMs_;
    s.bytesIn = bytesIn_.load(std::memory_order_relaxed);
    s.bytesOut = bytesOut_.load(std::memory_order_relaxed);
    std::lock_guard lock(identityMutex_);
    s.identity = identity_;
    return s;
}

void TcpConnection::requestClose(const std::string &reason)
{
    post([this, reason] {
        logger()->info("{}: {}", describe(), reason);
        if (const auto onCloseRequest = protocol().on_close_request) {
            onCloseRequest(session_, reason.data(), reason.size());
            // A plugin that does not close within 5 s is closed by the kernel.
            QTimer::singleShot(5000, this, [this] { beginClose(FERRY_CLOSE_ADMIN); });
            return;
        }
        beginClose(FERRY_CLOSE_ADMIN);
    });
}

// ---- timers --------------------------------------------------------------------------------------------------

ferry_status TcpConnection::serviceSetTimer(uint64_t timerId, uint32_t delayMs)
{
    if (!accepting())
        return FERRY_E_CLOSED;
    QTimer *&timer = pluginTimers_[timerId];
    if (timer == nullptr) {
        timer = new QTimer(this);
        timer->setSingleShot(true);
        QObject::connect(timer, &QTimer::timeout, this, [this, timerId] { onPluginTimer(timerId); });
    }
    timer->start(clampDelay(delayMs)); // re-arms when already running
    return FERRY_OK;
}

ferry_status TcpConnection::serviceCancelTimer(uint64_t timerId)
{
    if (!accepting())
        return FERRY_E_CLOSED;
    const auto it = pluginTimers_.find(timerId);
    if (it != pluginTimers_.end()) {
        delete it->second; // not the timer now firing: that one left the map before on_timer was called
        pluginTimers_.erase(it);
    }
    return FERRY_OK; // cancelling an unknown or already fired timer is not an error
}

void TcpConnection::onPluginTimer(uint64_t timerId)
{
    const auto it = pluginTimers_.find(timerId);
    if (it == pluginTimers_.end())
        return;
    it->second->deleteLater(); // we are inside its timeout signal
    pluginTimers_.erase(it);
    if (state_ != State::Open || protocol().on_timer == nullptr)
        return;
    HookScope scope(*this);
    protocol().on_timer(session_, timerId);
}

void TcpConnection::dropPluginTimers()
{
    for (auto &entry : pluginTimers_) {
        entry.second->stop();
        entry.second->deleteLater();
    }
    pluginTimers_.clear();
}

void TcpConnection::restartIdleTimer()
{
    if (context_->limits.idleTimeoutMs != 0)
        idleTimer_->start(clampDelay(context_->limits.idleTimeoutMs));
}

void TcpConnection::onIdleTimeout()
{
    if (state_ != State::Open || readStopped())
        return;
    logger()->info("{}: no bytes received for network.idle_timeout_ms = {}; closing", describe(),
                   context_->limits.idleTimeoutMs);
    beginClose(FERRY_CLOSE_IDLE);
}

// ---- peer address --------------------------------------------------------------------------------------------

ferry_status TcpConnection::servicePeerAddress(char *buf, size_t cap) const
{
    if (buf == nullptr || cap == 0)
        return FERRY_E_INVALID_ARGUMENT;
    const size_t n = std::min(peer_.size(), cap - 1);
    std::memcpy(buf, peer_.data(), n);
    buf[n] = '\0';
    return n == peer_.size() ? FERRY_OK : FERRY_E_TOO_LARGE;
}

// ---- posting -------------------------------------------------------------------------------------------------

void TcpConnection::post(std::function<void()> fn)
{
    if (!fn || !acceptPosts_.load(std::memory_order_acquire))
        return; // fn destroyed unrun
    // Queued even from the connection thread, so fn never runs inside a hook. If the connection is deleted first,
    // Qt discards the queued call and fn is destroyed unrun.
    QMetaObject::invokeMethod(
        this,
        [this, from = IoWorker::current(), fromConnection = inHookOnThisThread ? inHookOnThisThread->id_ : 0,
         fn = std::move(fn)] {
            runPosted(fn);
            notePostedFrom(from, fromConnection);
        },
        Qt::QueuedConnection);
}

void TcpConnection::wake(uint64_t token)
{
    post([this, token] {
        if (const auto onWake = protocol().on_wake)
            onWake(session_, token);
    });
}

void TcpConnection::runPosted(const std::function<void()> &fn)
{
    if (state_ != State::Open)
        return;
    HookScope scope(*this);
    try {
        fn();
    } catch (const std::exception &e) {
        logger()->error("{}: posted function threw: {}", describe(), e.what());
    } catch (...) {
        logger()->error("{}: posted function threw an unknown exception", describe());
    }
}

// ---- co-location ---------------------------------------------------------------------------------------------

namespace {
constexpr uint32_t kColocateWindow = 256;              // posts per decision window, plus up to as many again
constexpr uint32_t kColocateBusyLimitPermille = 500;   // a thread at least this busy takes no connection
constexpr std::chrono::seconds kColocateBackoff{1};    // after the n-th move, the next waits 2^n of these
constexpr std::chrono::seconds kColocateBackoffMax{60};
} // namespace

void TcpConnection::notePostedFrom(IoWorker *from, uint64_t fromConnection)
{
    if (!context_->limits.colocate || state_ != State::Open || movingTo_.load(std::memory_order_relaxed) != nullptr ||
        context_->workers.size() < 2)
        return;
    if (postsFrom_.empty()) {
        postsFrom_.assign(context_->workers.size(), 0);
        jitter_ = id_ * 0x9E3779B97F4A7C15ull + 1;
    }
    if (windowLength_ == 0) {
        jitter_ ^= jitter_ << 13, jitter_ ^= jitter_ >> 7, jitter_ ^= jitter_ << 17;
        windowLength_ = kColocateWindow + static_cast<uint32_t>(jitter_ % kColocateWindow);
    }
    if (from != nullptr)
        ++postsFrom_[static_cast<size_t>(from->index())];
    if (fromConnection == feederCandidate_)
        ++feederVotes_;
    else if (feederVotes_ == 0)
        feederCandidate_ = fromConnection, feederVotes_ = 1;
    else
        --feederVotes_;
    if (++windowPosts_ < windowLength_)
        return;

    const auto best = std::max_element(postsFrom_.begin(), postsFrom_.end());
    IoWorker *target = context_->workers[static_cast<size_t>(best - postsFrom_.begin())];
    const bool dominant = uint64_t(*best) * 10 >= uint64_t(windowPosts_) * 9;
    const uint64_t feeder = feederCandidate_;
    feeder_.store(feeder, std::memory_order_relaxed);
    std::fill(postsFrom_.begin(), postsFrom_.end(), 0);
    windowPosts_ = 0;
    windowLength_ = 0;
    feederCandidate_ = 0;
    feederVotes_ = 0;
    if (!dominant || target == worker_ || target->busyPermille() >= kColocateBusyLimitPermille)
        return;
    const auto now = std::chrono::steady_clock::now();
    if (now < nextMoveAllowed_ || !mayMoveTo(target, feeder))
        return;
    nextMoveAllowed_ = now + std::min<std::chrono::steady_clock::duration>(
                                 kColocateBackoff * (1ull << std::min(moves_, 6u)), kColocateBackoffMax);
    ++moves_;
    // From the event loop, not from inside this posted call.
    QMetaObject::invokeMethod(this, [this, target] { migrate(target); }, Qt::QueuedConnection);
}

bool TcpConnection::mayMoveTo(IoWorker *target, uint64_t feeder)
{
    std::lock_guard lock(context_->registryMutex);
    const auto it = feeder != 0 ? context_->registry.find(feeder) : context_->registry.end();
    if (it != context_->registry.end()) {
        const TcpConnection &other = *it->second;
        if (other.movingTo_.load(std::memory_order_acquire) != nullptr)
            return false; // it is moving itself: decide again once it has landed
        if (other.thread_.load(std::memory_order_acquire) == thread_.load(std::memory_order_relaxed))
            return false; // it has just moved here: the window's counts are stale
        if (other.feeder_.load(std::memory_order_relaxed) == id_ && id_ < other.id_)
            return false; // feeding each other: the younger connection moves, this one stays
    }
    movingTo_.store(target, std::memory_order_release);
    return true;
}

void TcpConnection::migrate(IoWorker *target)
{
    IoWorker *const from = worker_;
    if (state_ != State::Open || target == from || from->stopping()) {
        movingTo_.store(nullptr, std::memory_order_release);
        return;
    }
    logger()->debug("{}: moves from event-loop thread {} to {}, which posts it nearly all of its work", describe(),
                    from->index(), target->index());
    // Queued to this connection before the move, so Qt moves it along as the last of the connection's queued events:
    // it runs on the target thread, after the work posted before the move and before anything posted after it. A
    // connection that has closed by then is not adopted (its deferred delete comes later still).
    QMetaObject::invokeMethod(
        this,
        [this, target] {
            if (QThread::currentThread() == target->thread() && state_ != State::Closed)
                target->adoptMigrated(this);
        },
        Qt::QueuedConnection);
    from->forget(this);
    setParent(nullptr); // moveToThread refuses an object with a parent
    worker_ = target;
    thread_.store(target->thread(), std::memory_order_release);
    movingTo_.store(nullptr, std::memory_order_release);
    // Qt refuses only an object with a parent or one not on the calling thread, neither of which holds here. From
    // here on the connection may run (and even close and be deleted) on the target thread: touch nothing after this.
    moveToThread(target->thread());
}

void TcpConnection::addCloseHook(std::function<void()> fn)
{
    if (!fn)
        return;
    if (state_ == State::Closed) { // asked from a close hook: the connection is already gone
        fn();
        return;
    }
    closeHooks_.push_back(std::move(fn));
}

// ---- closing -------------------------------------------------------------------------------------------------

void TcpConnection::serviceClose(const char *reason)
{
    if (!accepting())
        return;
    logger()->debug("{}: closed by the plugin: {}", describe(), reason != nullptr ? reason : "(no reason)");
    beginClose(FERRY_CLOSE_REQUESTED);
}

void TcpConnection::beginClose(int32_t reason)
{
    if (!accepting())
        return;
    state_ = State::Closing;
    closeReason_ = reason;
    acceptPosts_.store(false, std::memory_order_release);
    dropPluginTimers();
    idleTimer_->stop();
    // Always from the event loop: beginClose may be reached from inside a hook (host->close, on_read's result).
    QMetaObject::invokeMethod(this, [this] { finishClose(); }, Qt::QueuedConnection);
}

void TcpConnection::finishClose()
{
    if (state_ != State::Closing)
        return;
    if (sessionOpen_ && socket_->state() == QAbstractSocket::ConnectedState && socket_->bytesToWrite() > 0) {
        // Flush what the plugin wrote, then disconnect; onDisconnected() finalizes. Bounded for peers not reading.
        closeFlushTimer_->start(clampDelay(context_->limits.closeFlushTimeoutMs));
        socket_->disconnectFromHost();
        return;
    }
    finalize();
}

void TcpConnection::onDisconnected()
{
    if (state_ == State::Closed)
        return;
    if (inHook_) {
        QMetaObject::invokeMethod(this, [this] { onDisconnected(); }, Qt::QueuedConnection);
        return;
    }
    if (state_ != State::Closing) {
        closeReason_ = FERRY_CLOSE_PEER;
        state_ = State::Closing;
        acceptPosts_.store(false, std::memory_order_release);
    }
    finalize();
}

void TcpConnection::onSocketError(QAbstractSocket::SocketError error)
{
    if (state_ == State::Closed)
        return;
    if (error != QAbstractSocket::RemoteHostClosedError)
        logger()->debug("{}: socket error: {}", describe(), socket_->errorString().toStdString());
    // Qt normally follows an error that ends the connection with disconnected(); make sure of it.
    QMetaObject::invokeMethod(
        this,
        [this] {
            if (state_ != State::Closed && socket_->state() == QAbstractSocket::UnconnectedState)
                onDisconnected();
        },
        Qt::QueuedConnection);
}

void TcpConnection::closeForShutdown()
{
    if (state_ == State::Closed)
        return;
    if (accepting()) {
        closeReason_ = FERRY_CLOSE_SHUTDOWN;
        state_ = State::Closing;
        acceptPosts_.store(false, std::memory_order_release);
    }
    if (socket_->state() == QAbstractSocket::ConnectedState)
        socket_->flush(); // best effort, without waiting
    finalize();
}

void TcpConnection::finalize()
{
    if (state_ == State::Closed)
        return;
    state_ = State::Closed;
    {
        std::lock_guard lock(context_->registryMutex);
        context_->registry.erase(id_);
        acceptPosts_.store(false, std::memory_order_release);
    }
    dropPluginTimers();
    idleTimer_->stop();
    closeFlushTimer_->stop();
    socket_->disconnect(this); // no more socket signals reach us

    if (sessionOpen_) {
        sessionOpen_ = false;
        HookScope scope(*this);
        protocol().on_close(session_, closeReason_);
    }
    session_ = nullptr;

    // Close hooks may add further hooks; run until none are left.
    while (!closeHooks_.empty()) {
        std::vector<std::function<void()>> hooks;
        hooks.swap(closeHooks_);
        for (auto &hook : hooks) {
            try {
                hook();
            } catch (const std::exception &e) {
                logger()->error("{}: close hook threw: {}", describe(), e.what());
            } catch (...) {
                logger()->error("{}: close hook threw an unknown exception", describe());
            }
        }
    }

    if (socket_->state() != QAbstractSocket::UnconnectedState)
        socket_->abort();
    writeBlocked_.store(false, std::memory_order_release);
    context_->connectionCount.fetch_sub(1, std::memory_order_acq_rel);
    worker_->forget(this);
    deleteLater();
}

} // namespace ferry::net
