// storage_crash_writer: the child of tst_storage_crash. Opens a storage plugin's store and writes batches in a loop
// until it is killed, reporting on stdout what each batch does and when it became durable (see CrashProtocol.h).
//
// Usage: storage_crash_writer --plugin PATH --dir DATA_DIR --seed N --round N [--config SECTION.KEY=VALUE ...]
// Exit codes: 2 bad command line, 3 plugin load or open failed, 4 a storage call failed; it is normally killed.
// As a safety net it exits by itself (code 0, after printing "TIMEOUT") after 60 seconds.
#include "CrashProtocol.h"

#include <QCoreApplication>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace ferry::storagetest;
using ferry::LoadedPlugin;
using namespace ferry::storagetest::crash;

namespace {

// One whole line per write, flushed, so the parent never acts on a half-written line of ours.
void emitLine(const std::string &line)
{
    const std::string text = kLinePrefix + line + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

[[noreturn]] void die(int code, const std::string &text)
{
    emitLine("ERROR " + text);
    std::fflush(stderr);
    std::exit(code);
}

struct QueueView {
    uint64_t low = 0;
    uint64_t next = 0;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    std::vector<std::string> arguments;
    for (const QString &arg : QCoreApplication::arguments())
        arguments.push_back(arg.toStdString());
    SuiteOptions options = parseSuiteOptions(arguments);
    std::string dir;
    uint64_t round = 0;
    for (size_t i = 1; i + 1 < options.passThrough.size(); ++i) {
        if (options.passThrough[i] == "--dir")
            dir = options.passThrough[i + 1];
        else if (options.passThrough[i] == "--round")
            round = std::stoull(options.passThrough[i + 1]);
    }
    if (!options.error.empty() || options.plugins.size() != 1 || options.seeds.size() != 1 || dir.empty()) {
        std::fprintf(stderr, "usage: storage_crash_writer --plugin PATH --dir DATA_DIR --seed N --round N\n");
        return 2;
    }
    const uint64_t seed = options.seeds.front();

    std::string error;
    const LoadedPlugin *plugin = loadStoragePlugin(options.plugins.front(), options.config, &error);
    if (plugin == nullptr)
        die(3, error);
    std::unique_ptr<StorageInstance> store;
    const CallResult opened = StorageInstance::open(*plugin, pathFromUtf8(dir), {}, store);
    if (!opened.ok())
        die(3, "open: " + describe(opened));

    std::map<uint64_t, QueueView> queues;
    for (uint64_t q : kQueues) {
        QueueView view;
        const CallResult r = store->queueBounds(q, view.low, view.next);
        if (!r.ok())
            die(4, "queue_bounds(" + std::to_string(q) + "): " + describe(r));
        queues[q] = view;
    }
    emitLine("READY");

    Rng rng(mix64(seed ^ (round * 0x2545f4914f6cdd1dULL)));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    // Batches grow with the round number, so later rounds crash amid more data.
    const uint64_t maxPerQueue = 2 + round;

    for (uint64_t seq = 1; std::chrono::steady_clock::now() < deadline; ++seq) {
        std::vector<CrashOp> ops;
        const uint64_t queuesThisBatch = rng.range(1, std::size(kQueues));
        const uint64_t firstQueue = rng.below(std::size(kQueues));
        for (uint64_t i = 0; i < queuesThisBatch; ++i) {
            const uint64_t q = kQueues[(firstQueue + i) % std::size(kQueues)];
            CrashOp op;
            op.kind = 'A';
            op.queue = q;
            op.a = queues[q].next;
            op.b = rng.range(1, maxPerQueue);
            queues[q].next += op.b;
            ops.push_back(op);
        }
        const uint64_t someQueue = kQueues[rng.below(std::size(kQueues))];
        QueueView &view = queues[someQueue];
        if (rng.chance(0.4) && view.next > view.low) {
            for (uint64_t i = rng.range(1, 3); i > 0; --i) {
                CrashOp op;
                op.kind = 'K';
                op.queue = someQueue;
                op.a = view.low + rng.below(view.next - view.low);
                ops.push_back(op);
            }
        }
        if (rng.chance(0.08) && view.next > view.low) {
            CrashOp op;
            op.kind = 'T';
            op.queue = someQueue;
            op.a = view.low + rng.below((view.next - view.low) / 2 + 1);
            view.low = op.a;
            ops.push_back(op);
        }
        {
            CrashOp op;
            op.kind = 'O';
            op.group = "crash-group-" + std::to_string(seq % 3);
            op.queue = kQueues[rng.below(std::size(kQueues))];
            op.a = (round << 32) | seq;
            ops.push_back(op);
        }
        {
            CrashOp op;
            op.kind = 'M';
            op.key = std::string("crash\x00meta\xff", 11) + std::to_string(seq % 7);
            op.value = "round " + std::to_string(round) + " seq " + std::to_string(seq) + " ";
            const size_t filler = rng.below(300);
            for (size_t i = 0; i < filler; ++i)
                op.value.push_back(static_cast<char>(rng.below(256)));
            ops.push_back(op);
        }

        std::string line = "BATCH " + std::to_string(seq);
        for (const CrashOp &op : ops)
            line += " " + formatOp(op);
        emitLine(line);

        for (const CrashOp &op : ops) {
            CallResult r;
            switch (op.kind) {
            case 'A':
                for (uint64_t offset = op.a; offset < op.a + op.b; ++offset) {
                    const DerivedRecord rec = derivedRecord(seed, op.queue, offset);
                    const std::string_view all(rec.bytes);
                    uint64_t got = 0;
                    r = store->append(op.queue, rec.storeTimeMs, all.substr(0, rec.headLen), all.substr(rec.headLen),
                                      got);
                    if (!r.ok())
                        die(4, "append(" + std::to_string(op.queue) + "): " + describe(r));
                    if (got != offset)
                        die(4, "append(" + std::to_string(op.queue) + ") returned offset " + std::to_string(got) +
                                   ", expected " + std::to_string(offset));
                }
                break;
            case 'K': r = store->ack(op.queue, op.a); break;
            case 'T': r = store->truncatePrefix(op.queue, op.a); break;
            case 'O': r = store->offsetSet(op.group, op.queue, op.a); break;
            case 'M': r = store->metaPut(op.key, op.value); break;
            default: break;
            }
            if (!r.ok())
                die(4, formatOp(op) + ": " + describe(r));
        }
        const CallResult synced = store->sync();
        if (!synced.ok())
            die(4, "sync: " + describe(synced));
        emitLine("SYNCED " + std::to_string(seq));
    }
    emitLine("TIMEOUT");
    std::fflush(stdout);
    // Leave without close(): this program only ever ends by being killed, and must not tidy up the store.
    std::_Exit(0);
}
