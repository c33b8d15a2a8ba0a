// bench_storage: how fast the kernel stores persistent messages into a durable queue, per storage plugin and flush
// mode, and how fast it reads them back. In process, no network: this isolates the publish -> store path
// (Queue::publish, the storage thread's group commit, the plugin's append/sync) from protocol costs.
//
//   bench_storage [--messages N] [--size BYTES] [--plugins file,sqlite] [--dir DIR]
//
// There is no peer for this layer on the machine (RabbitMQ's message store is not separable); the protocol-level
// benchmarks that compare against RabbitMQ live beside the AMQP plugin's.
#include "plugin/PluginHost.h"
#include "queue/QueueRegistry.h"
#include "sched/Scheduler.h"
#include "storage/StorageEngine.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

using namespace ferry;

namespace {

struct Options {
    uint64_t messages = 100000;
    size_t size = 256;
    std::vector<std::string> plugins{"file", "sqlite"};
    std::filesystem::path dir = std::filesystem::temp_directory_path() / "ferry-bench-storage";
};

double seconds(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void runOne(const LoadedPlugin &plugin, FlushMode mode, const Options &opt)
{
    BrokerSettings settings;
    settings.dataDir = opt.dir / (plugin.name + (mode == FlushMode::Sync ? "-sync" : "-async"));
    std::filesystem::remove_all(settings.dataDir);
    settings.flush = mode;
    StorageEngine storage(plugin, settings);
    std::string err;
    if (!storage.open(&err)) {
        std::fprintf(stderr, "open failed: %s\n", err.c_str());
        return;
    }
    Scheduler scheduler;
    QueueRegistry registry(storage, scheduler, 0);
    registry.restore(&err);
    QueuePtr queue;
    std::mutex m;
    std::condition_variable cv;
    bool declared = false;
    registry.declare("bench", FERRY_QUEUE_DURABLE, [&](ferry_status, const QueuePtr &q, const std::string &) {
        std::lock_guard lock(m);
        queue = q;
        declared = true;
        cv.notify_all();
    });
    {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return declared; });
    }

    const std::string body(opt.size, 'x');
    std::atomic<uint64_t> confirmed{0};
    const uint64_t syncsBefore = storage.syncCount();
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < opt.messages; ++i) {
        auto msg = std::make_shared<Message>();
        msg->body = body;
        msg->flags = FERRY_MESSAGE_PERSISTENT;
        queue->publish(std::move(msg), [&](ferry_status st, uint64_t, const std::string &) {
            if (st == FERRY_OK && confirmed.fetch_add(1) + 1 == opt.messages) {
                std::lock_guard lock(m);
                cv.notify_all();
            }
        });
    }
    {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return confirmed.load() == opt.messages; });
    }
    const double publishSecs = seconds(start);
    const uint64_t syncs = storage.syncCount() - syncsBefore;

    // Read everything back through the storage thread, as a consumer catching up would.
    uint64_t readCount = 0;
    const auto readStart = std::chrono::steady_clock::now();
    uint64_t from = 0;
    for (;;) {
        uint64_t got = 0;
        storage.call(
            [&](StorageSession &s) {
                return s.read(queue->id(), from, 4096, 16u << 20, [&](const ferry_storage_record &r) {
                    from = r.offset + 1;
                    ++got;
                    return true;
                });
            },
            &err);
        readCount += got;
        if (got == 0)
            break;
    }
    const double readSecs = seconds(readStart);
    storage.close();

    std::printf("%-8s %-6s %10llu msgs x %5zu B  publish+confirm %10.0f msg/s %8.1f MB/s  %7llu syncs (%.0f msgs/sync)"
                "  read back %10.0f msg/s\n",
                plugin.name.c_str(), mode == FlushMode::Sync ? "sync" : "async",
                static_cast<unsigned long long>(opt.messages), opt.size, opt.messages / publishSecs,
                opt.messages * double(opt.size) / publishSecs / 1e6, static_cast<unsigned long long>(syncs),
                syncs ? double(opt.messages) / syncs : 0.0, readCount / readSecs);
    std::filesystem::remove_all(settings.dataDir);
}

} // namespace

int main(int argc, char **argv)
{
    Options opt;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--messages")
            opt.messages = std::stoull(argv[i + 1]);
        else if (a == "--size")
            opt.size = std::stoul(argv[i + 1]);
        else if (a == "--dir")
            opt.dir = argv[i + 1];
        else if (a == "--plugins") {
            opt.plugins.clear();
            std::stringstream ss(argv[i + 1]);
            for (std::string p; std::getline(ss, p, ',');)
                opt.plugins.push_back(p);
        } else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    PluginHost host([](std::string_view, std::string_view) { return std::nullopt; });
    host.loadDirectories({FERRY_BENCH_PLUGIN_DIR});
    std::printf("bench_storage: durable queue, persistent messages, confirm = stored (and synced in sync mode)\n");
    for (const std::string &name : opt.plugins) {
        const LoadedPlugin *p = host.find(name);
        if (!p || p->kind != FERRY_PLUGIN_KIND_STORAGE) {
            std::fprintf(stderr, "no storage plugin '%s' in %s\n", name.c_str(), FERRY_BENCH_PLUGIN_DIR);
            return 1;
        }
        runOne(*p, FlushMode::Sync, opt);
        runOne(*p, FlushMode::Async, opt);
    }
    return 0;
}
