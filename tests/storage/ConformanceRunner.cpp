#include "ConformanceRunner.h"

#include <algorithm>
#include <limits>
#include <sstream>

namespace ferry::storagetest {

namespace {

// Queue ids in play: small ones, a large one and one with the high bit set (queue ids are full uint64_t).
const uint64_t kQueuePool[] = {0, 1, 2, 77, 0x8000000000000005ULL};
// Ids that are never created: operations on them must fail with FERRY_E_NOT_FOUND.
const uint64_t kNeverCreated[] = {3, 123456789, 0xFFFFFFFFFFFFFFFEULL};
// Consumer groups: UTF-8 strings of the shapes the kernel uses.
const char *const kGroups[] = {"g", "orders-consumers", "%RETRY%orders", "gr\xc3\xbc\x70\x70\x65-\xc3\xa9", "a:b/c d"};
// Bytes meta keys are made of: the extremes 0x00 and 0xFF, their neighbours and a few letters, so prefixes collide.
const unsigned char kKeyAlphabet[] = {0x00, 0x01, 'a', 'b', 'z', 0x7F, 0x80, 0xFE, 0xFF};

constexpr size_t kHistoryLines = 40;
constexpr uint32_t kUnlimitedRecords = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kUnlimitedBytes = std::numeric_limits<uint64_t>::max();

std::string num(uint64_t v) { return std::to_string(v); }

} // namespace

ConformanceRunner::ConformanceRunner(const LoadedPlugin &plugin, std::filesystem::path dataDir, uint64_t seed)
    : plugin_(plugin), dataDir_(std::move(dataDir)), seed_(seed), rng_(mix64(seed ^ 0x5eedf00dULL))
{
    ops_ = {
        {"append", 28, &ConformanceRunner::opAppend},
        {"read", 18, &ConformanceRunner::opRead},
        {"ack", 9, &ConformanceRunner::opAck},
        {"truncate_prefix", 3, &ConformanceRunner::opTruncate},
        {"queue_bounds", 5, &ConformanceRunner::opQueueBounds},
        {"queue_list", 1.5, &ConformanceRunner::opQueueList},
        {"queue_create", 1.5, &ConformanceRunner::opQueueCreate},
        {"queue_delete", 0.6, &ConformanceRunner::opQueueDelete},
        {"seek_time", 4, &ConformanceRunner::opSeekTime},
        {"offset_set", 4, &ConformanceRunner::opOffsetSet},
        {"offset_get", 4, &ConformanceRunner::opOffsetGet},
        {"offset_list", 1, &ConformanceRunner::opOffsetList},
        {"meta_put", 5, &ConformanceRunner::opMetaPut},
        {"meta_get", 4, &ConformanceRunner::opMetaGet},
        {"meta_delete", 2, &ConformanceRunner::opMetaDelete},
        {"meta_scan", 3, &ConformanceRunner::opMetaScan},
        {"sync", 1.5, &ConformanceRunner::opSync},
        {"reopen", 0.25, &ConformanceRunner::opReopen},
        {"maintain", 0.4, &ConformanceRunner::opMaintain},
        {"control", 0.5, &ConformanceRunner::opControl},
        {"absent_queue", 1.2, &ConformanceRunner::opAbsentQueue},
    };
    for (const auto &op : ops_)
        totalWeight_ += op.weight;
}

// ---- running and reporting ---------------------------------------------------------------------------------------

bool ConformanceRunner::openStore()
{
    const CallResult r = StorageInstance::open(plugin_, dataDir_, {}, store_);
    if (!r.ok())
        return fail("open(" + pathText(dataDir_) + ") failed: " + describe(r));
    capabilities_ = store_->capabilities();
    if (const std::string v = store_->takeViolation(); !v.empty())
        return fail(v);
    return true;
}

bool ConformanceRunner::run(long operations)
{
    opIndex_ = -1;
    current_ = "open";
    if (!openStore())
        return false;
    history_.push_back("open -> OK, capabilities " + num(capabilities_));
    if (!fullCheck("fresh store"))
        return false;

    for (opIndex_ = 0; opIndex_ < operations; ++opIndex_) {
        // With no queue, record operations have nothing to work on: create one first.
        const WeightedOp *chosen = nullptr;
        if (model_.queues().empty() && rng_.chance(0.9)) {
            chosen = &*std::find_if(ops_.begin(), ops_.end(),
                                    [](const WeightedOp &op) { return op.op == &ConformanceRunner::opQueueCreate; });
        } else {
            double pick = static_cast<double>(rng_.next() >> 11) * 0x1.0p-53 * totalWeight_;
            for (const auto &op : ops_) {
                chosen = &op;
                if (pick < op.weight)
                    break;
                pick -= op.weight;
            }
        }
        current_ = "#" + std::to_string(opIndex_) + " " + chosen->name;
        ++counts_[chosen->name];
        const auto started = std::chrono::steady_clock::now();
        const bool ok = (this->*(chosen->op))();
        seconds_[chosen->name] += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        history_.push_back(current_);
        while (history_.size() > kHistoryLines)
            history_.pop_front();
        if (!ok)
            return false;
        ++performed_;
    }
    current_ = "final check";
    if (!fullCheck("end of sequence"))
        return false;
    store_.reset(); // close
    current_ = "reopen after close";
    if (!openStore() || !fullCheck("after the final close and reopen"))
        return false;
    store_.reset();
    return true;
}

bool ConformanceRunner::fail(const std::string &what)
{
    std::ostringstream out;
    out << "plugin '" << plugin_.name << "' (" << pathText(plugin_.file) << ") seed " << seed_ << ", op index "
        << opIndex_ << " [" << current_ << "]: " << what << "  (replay: --seed " << seed_ << ")";
    failure_ = out.str();
    return false;
}

std::string ConformanceRunner::historyTail() const
{
    std::string out;
    for (const auto &line : history_)
        out += "  " + line + "\n";
    if (!failure_.empty())
        out += "  " + current_ + "   <-- failed here\n";
    return out;
}

void ConformanceRunner::note(std::string text)
{
    current_ += " ";
    current_ += text;
}

bool ConformanceRunner::expectStatus(const CallResult &got, ferry_status expected, const std::string &call)
{
    note("-> " + statusName(got.status));
    if (const std::string v = store_->takeViolation(); !v.empty())
        return fail(v);
    if (got.status != expected)
        return fail(call + ": expected " + statusName(expected) + ", got " + describe(got));
    return true;
}

bool ConformanceRunner::compareRecords(const std::vector<RecordCopy> &expected, const std::vector<RecordCopy> &got,
                                       const std::string &call)
{
    const size_t n = std::min(expected.size(), got.size());
    for (size_t i = 0; i < n; ++i) {
        const RecordCopy &e = expected[i];
        const RecordCopy &g = got[i];
        std::string diff;
        if (e.offset != g.offset)
            diff = "offset: expected " + num(e.offset) + ", got " + num(g.offset);
        else if (e.storeTimeMs != g.storeTimeMs)
            diff = "store_time_ms: expected " + num(e.storeTimeMs) + ", got " + num(g.storeTimeMs);
        else if (e.bytes.size() != g.bytes.size())
            diff = "len: expected " + num(e.bytes.size()) + ", got " + num(g.bytes.size());
        else if (e.bytes != g.bytes) {
            size_t at = 0;
            while (e.bytes[at] == g.bytes[at])
                ++at;
            diff = "bytes differ from byte " + num(at) + ": expected " + hex(e.bytes.substr(at), 16) + ", got " +
                   hex(g.bytes.substr(at), 16);
        }
        if (!diff.empty())
            return fail(call + ": record #" + num(i) + " (offset " + num(e.offset) + "): " + diff);
    }
    if (expected.size() != got.size()) {
        std::string what = call + ": expected " + num(expected.size()) + " records, got " + num(got.size());
        if (got.size() > expected.size())
            what += "; first extra record has offset " + num(got[expected.size()].offset);
        else
            what += "; first missing record has offset " + num(expected[got.size()].offset);
        return fail(what);
    }
    return true;
}

// ---- random choices ----------------------------------------------------------------------------------------------

std::optional<uint64_t> ConformanceRunner::pickExistingQueue()
{
    const auto &queues = model_.queues();
    if (queues.empty())
        return std::nullopt;
    auto it = queues.begin();
    std::advance(it, static_cast<long>(rng_.below(queues.size())));
    return it->first;
}

uint64_t ConformanceRunner::pickPoolQueue() { return kQueuePool[rng_.below(std::size(kQueuePool))]; }

std::string ConformanceRunner::pickGroup() { return kGroups[rng_.below(std::size(kGroups))]; }

std::string ConformanceRunner::randomMetaKey()
{
    const size_t len = rng_.chance(0.05) ? rng_.range(13, 200) : rng_.range(1, 12);
    std::string key(len, '\0');
    for (auto &c : key)
        c = static_cast<char>(kKeyAlphabet[rng_.below(std::size(kKeyAlphabet))]);
    return key;
}

std::string ConformanceRunner::pickMetaKey()
{
    const auto &meta = model_.meta();
    if (!meta.empty() && rng_.chance(0.6)) {
        auto it = meta.begin();
        std::advance(it, static_cast<long>(rng_.below(meta.size())));
        return it->first;
    }
    return randomMetaKey();
}

std::string ConformanceRunner::randomBytes(size_t len)
{
    std::string bytes(len, '\0');
    rng_.fill(bytes.data(), len);
    return bytes;
}

// ---- queues ------------------------------------------------------------------------------------------------------

bool ConformanceRunner::opQueueCreate()
{
    const uint64_t id = pickPoolQueue();
    const uint32_t flags = rng_.chance(0.3) ? FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED : 0;
    note("q=" + num(id) + " flags=" + num(flags));
    const ferry_status expected = model_.queueCreate(id, flags);
    return expectStatus(store_->queueCreate(id, flags), expected, "queue_create");
}

bool ConformanceRunner::opQueueDelete()
{
    const uint64_t id = pickPoolQueue();
    note("q=" + num(id));
    const ferry_status expected = model_.queueDelete(id);
    return expectStatus(store_->queueDelete(id), expected, "queue_delete");
}

bool ConformanceRunner::opQueueList()
{
    std::vector<QueueInfo> got;
    if (!expectStatus(store_->queueList(got), FERRY_OK, "queue_list"))
        return false;
    std::sort(got.begin(), got.end());
    const std::vector<QueueInfo> expected = model_.queueList();
    if (got != expected) {
        auto text = [](const std::vector<QueueInfo> &list) {
            std::string s = "[";
            for (const auto &q : list)
                s += " " + num(q.id) + "/flags=" + num(q.flags);
            return s + " ]";
        };
        return fail("queue_list: expected " + text(expected) + ", got " + text(got));
    }
    return true;
}

bool ConformanceRunner::opQueueBounds()
{
    const auto id = pickExistingQueue();
    if (!id)
        return opQueueList();
    note("q=" + num(*id));
    uint64_t low = 0, next = 0, expLow = 0, expNext = 0;
    model_.queueBounds(*id, expLow, expNext);
    if (!expectStatus(store_->queueBounds(*id, low, next), FERRY_OK, "queue_bounds"))
        return false;
    note("low=" + num(low) + " next=" + num(next));
    if (low != expLow || next != expNext)
        return fail("queue_bounds(" + num(*id) + "): expected low=" + num(expLow) + " next=" + num(expNext) +
                    ", got low=" + num(low) + " next=" + num(next));
    return true;
}

// ---- records -----------------------------------------------------------------------------------------------------

bool ConformanceRunner::opAppend()
{
    const auto id = pickExistingQueue();
    if (!id)
        return opQueueCreate();
    size_t len;
    const double shape = static_cast<double>(rng_.below(1000)) / 1000.0;
    if (shape < 0.01)
        len = rng_.range(4097, 256 * 1024); // occasionally large
    else if (shape < 0.08)
        len = 0;
    else
        len = rng_.range(1, 4096);
    size_t headLen;
    const uint64_t split = rng_.below(10);
    if (split == 0)
        headLen = 0;
    else if (split == 1)
        headLen = len;
    else
        headLen = rng_.below(len + 1);
    const std::string bytes = randomBytes(len);
    const uint64_t step = rng_.below(10);
    clockMs_ += step < 5 ? 0 : step - 4; // non-decreasing, often equal
    note("q=" + num(*id) + " time=" + num(clockMs_) + " head=" + num(headLen) + " body=" + num(len - headLen));
    uint64_t expectedOffset = 0;
    model_.append(*id, clockMs_, bytes, expectedOffset);
    uint64_t offset = ~0ULL;
    const std::string_view all(bytes);
    if (!expectStatus(store_->append(*id, clockMs_, all.substr(0, headLen), all.substr(headLen), offset), FERRY_OK,
                      "append"))
        return false;
    note("offset=" + num(offset));
    if (offset != expectedOffset)
        return fail("append to queue " + num(*id) + ": expected offset " + num(expectedOffset) + ", got " +
                    num(offset));
    return true;
}

bool ConformanceRunner::opRead()
{
    const auto id = pickExistingQueue();
    if (!id)
        return opQueueCreate();
    const ModelQueue &q = *model_.queue(*id);
    const uint64_t low = q.low();
    uint64_t from;
    switch (rng_.below(8)) {
    case 0: from = low; break;
    case 1: from = low > 0 ? low - 1 : 0; break; // below low
    case 2: from = q.next + rng_.below(3); break; // at or beyond next
    case 3: from = rng_.chance(0.5) ? std::numeric_limits<uint64_t>::max() : q.next + rng_.range(1, 1000000); break;
    case 4: from = 0; break;
    default: from = rng_.below(q.next + 2); break;
    }
    uint32_t maxRecords;
    switch (rng_.below(6)) {
    case 0: maxRecords = 1; break;
    case 1:
    case 2: maxRecords = static_cast<uint32_t>(rng_.range(2, 10)); break;
    case 3: maxRecords = static_cast<uint32_t>(rng_.range(11, 300)); break;
    default: maxRecords = kUnlimitedRecords; break;
    }
    uint64_t maxBytes;
    switch (rng_.below(10)) {
    case 0: maxBytes = 1; break;
    case 1:
    case 2:
    case 3: maxBytes = rng_.range(1, 8192); break;
    case 4:
    case 5: maxBytes = rng_.range(8193, 400000); break;
    case 6: {
        // On the boundary: exactly the size of the next k records (k + 1 must not fit), or one byte off it.
        uint64_t sum = 0;
        const uint64_t k = rng_.range(1, 6);
        uint64_t taken = 0;
        for (auto it = q.readable.lower_bound(from); it != q.readable.end() && taken < k; ++it, ++taken)
            sum += it->second.bytes.size();
        const uint64_t shift = rng_.below(3);
        maxBytes = std::max<uint64_t>(1, shift == 0 ? sum : shift == 1 ? sum + 1 : (sum > 0 ? sum - 1 : 0));
        break;
    }
    default: maxBytes = kUnlimitedBytes; break;
    }
    const size_t stopAfter = rng_.chance(0.1) ? rng_.range(1, 4) : 0;
    std::string call = "read(q=" + num(*id) + ", from=" + num(from) + ", max_records=" + num(maxRecords) +
                       ", max_bytes=" + num(maxBytes) + (stopAfter ? ", sink stops after " + num(stopAfter) : "") +
                       ")";
    note(call.substr(4));
    std::vector<RecordCopy> expected, got;
    model_.read(*id, from, maxRecords, maxBytes, stopAfter, expected);
    if (!expectStatus(store_->read(*id, from, maxRecords, maxBytes, got, stopAfter), FERRY_OK, call))
        return false;
    note("got " + num(got.size()) + (got.empty() ? "" : " [" + num(got.front().offset) + ".." + num(got.back().offset) + "]"));
    // One reading the contract leaves open: once the delivered bytes equal max_bytes exactly, a following empty
    // record would not exceed max_bytes, yet "until max_bytes bytes" also allows stopping there. Accept both.
    if (!got.empty() && got.size() < expected.size()) {
        uint64_t delivered = 0;
        for (const RecordCopy &r : got)
            delivered += r.bytes.size();
        if (delivered == maxBytes && expected[got.size()].bytes.empty()) {
            note("(stopped at exactly max_bytes before an empty record)");
            expected.resize(got.size());
        }
    }
    return compareRecords(expected, got, call);
}

bool ConformanceRunner::opAck()
{
    const auto id = pickExistingQueue();
    if (!id)
        return opQueueCreate();
    const ModelQueue &q = *model_.queue(*id);
    if (q.next == 0)
        return opAppend();
    uint64_t offset;
    if (!q.readable.empty() && rng_.chance(0.7)) {
        auto it = q.readable.begin();
        // Mostly near the front, like consumers ack.
        const size_t span = std::min<size_t>(q.readable.size(), rng_.chance(0.7) ? 8 : q.readable.size());
        std::advance(it, static_cast<long>(rng_.below(span)));
        offset = it->first;
    } else {
        offset = rng_.below(q.next); // possibly acked or truncated already: still FERRY_OK
    }
    note("q=" + num(*id) + " offset=" + num(offset));
    const ferry_status expected = model_.ack(*id, offset);
    return expectStatus(store_->ack(*id, offset), expected, "ack(" + num(*id) + ", " + num(offset) + ")");
}

bool ConformanceRunner::opTruncate()
{
    const auto id = pickExistingQueue();
    if (!id)
        return opQueueCreate();
    const ModelQueue &q = *model_.queue(*id);
    const uint64_t low = q.low();
    uint64_t newLow;
    switch (rng_.below(10)) {
    case 0: newLow = rng_.below(low + 1); break; // at or below low: nothing changes
    case 1: newLow = q.next; break;
    case 2: newLow = q.next + rng_.range(1, 100); break; // beyond next: clamps
    case 3: newLow = std::numeric_limits<uint64_t>::max(); break;
    default: newLow = low + rng_.below((q.next - low) / 2 + 1); break;
    }
    note("q=" + num(*id) + " new_low=" + num(newLow));
    const ferry_status expected = model_.truncatePrefix(*id, newLow);
    return expectStatus(store_->truncatePrefix(*id, newLow), expected,
                        "truncate_prefix(" + num(*id) + ", " + num(newLow) + ")");
}

bool ConformanceRunner::opSeekTime()
{
    const auto id = pickExistingQueue();
    if (!id)
        return opQueueCreate();
    const ModelQueue &q = *model_.queue(*id);
    uint64_t time;
    if (!q.readable.empty() && rng_.chance(0.4)) {
        auto it = q.readable.begin();
        std::advance(it, static_cast<long>(rng_.below(q.readable.size())));
        time = it->second.storeTimeMs + (rng_.chance(0.3) ? 1 : 0);
    } else if (rng_.chance(0.1)) {
        time = rng_.chance(0.5) ? 0 : std::numeric_limits<uint64_t>::max();
    } else {
        time = clockMs_ - rng_.below(200) + rng_.below(5);
    }
    note("q=" + num(*id) + " time=" + num(time));
    uint64_t offset = ~0ULL;
    const std::string call = "seek_time(" + num(*id) + ", " + num(time) + ")";
    if (!(capabilities_ & FERRY_STORAGE_CAP_TIME_INDEX))
        return expectStatus(store_->seekTime(*id, time, offset), FERRY_E_UNSUPPORTED, call + " without the cap");
    uint64_t expected = 0;
    model_.seekTime(*id, time, expected);
    if (!expectStatus(store_->seekTime(*id, time, offset), FERRY_OK, call))
        return false;
    note("offset=" + num(offset));
    if (offset != expected) {
        std::string detail;
        if (const auto it = q.readable.find(offset); it != q.readable.end())
            detail = " (store time of got: " + num(it->second.storeTimeMs) + ")";
        else if (offset < q.next)
            detail = " (got offset is acked or truncated)";
        return fail(call + ": expected " + num(expected) + ", got " + num(offset) + detail);
    }
    return true;
}

// ---- consumer offsets --------------------------------------------------------------------------------------------

bool ConformanceRunner::opOffsetSet()
{
    // The contract sets offsets for existing queues (queue_delete removes them); unknown queues are not exercised.
    const auto id = pickExistingQueue();
    if (!id)
        return opQueueCreate();
    const std::string group = pickGroup();
    const uint64_t offset = rng_.chance(0.8) ? rng_.below(model_.queue(*id)->next + 10) : rng_.next();
    note("group=" + group + " q=" + num(*id) + " offset=" + num(offset));
    const ferry_status expected = model_.offsetSet(group, *id, offset);
    return expectStatus(store_->offsetSet(group, *id, offset), expected, "offset_set");
}

bool ConformanceRunner::opOffsetGet()
{
    const std::string group = pickGroup();
    const uint64_t id = rng_.chance(0.9) ? pickPoolQueue() : kNeverCreated[rng_.below(std::size(kNeverCreated))];
    note("group=" + group + " q=" + num(id));
    uint64_t expected = 0, got = ~0ULL;
    const ferry_status expectedStatus = model_.offsetGet(group, id, expected);
    const std::string call = "offset_get(" + group + ", " + num(id) + ")";
    if (!expectStatus(store_->offsetGet(group, id, got), expectedStatus, call))
        return false;
    if (expectedStatus == FERRY_OK && got != expected)
        return fail(call + ": expected " + num(expected) + ", got " + num(got));
    return true;
}

bool ConformanceRunner::opOffsetList()
{
    std::vector<OffsetEntry> got;
    if (!expectStatus(store_->offsetList(got), FERRY_OK, "offset_list"))
        return false;
    std::sort(got.begin(), got.end());
    const std::vector<OffsetEntry> expected = model_.offsetList();
    note("entries=" + num(got.size()));
    if (got != expected) {
        auto text = [](const std::vector<OffsetEntry> &list) {
            std::string s = "[";
            for (const auto &e : list)
                s += " (" + e.group + "," + num(e.queueId) + ")=" + num(e.offset);
            return s + " ]";
        };
        return fail("offset_list: expected " + text(expected) + ", got " + text(got));
    }
    return true;
}

// ---- metadata ----------------------------------------------------------------------------------------------------

bool ConformanceRunner::opMetaPut()
{
    const std::string key = pickMetaKey();
    size_t len;
    const uint64_t shape = rng_.below(20);
    if (shape == 0)
        len = 0;
    else if (shape == 1)
        len = rng_.range(1000, 64 * 1024);
    else
        len = rng_.range(1, 200);
    const std::string value = randomBytes(len);
    note("key=" + hex(key) + " value_len=" + num(len));
    const ferry_status expected = model_.metaPut(key, value);
    return expectStatus(store_->metaPut(key, value), expected, "meta_put(" + hex(key) + ")");
}

bool ConformanceRunner::opMetaGet()
{
    const std::string key = pickMetaKey();
    note("key=" + hex(key));
    std::string expected, got;
    int sinkCalls = 0;
    const ferry_status expectedStatus = model_.metaGet(key, expected);
    const std::string call = "meta_get(" + hex(key) + ")";
    if (!expectStatus(store_->metaGet(key, got, sinkCalls), expectedStatus, call))
        return false;
    if (expectedStatus != FERRY_OK)
        return sinkCalls == 0 ? true : fail(call + ": returned NOT_FOUND but called the sink");
    if (sinkCalls != 1)
        return fail(call + ": sink called " + num(sinkCalls) + " times, expected exactly once");
    if (got != expected)
        return fail(call + ": expected value " + hex(expected) + ", got " + hex(got));
    return true;
}

bool ConformanceRunner::opMetaDelete()
{
    const std::string key = pickMetaKey();
    note("key=" + hex(key));
    const ferry_status expected = model_.metaDelete(key);
    return expectStatus(store_->metaDelete(key), expected, "meta_delete(" + hex(key) + ")");
}

bool ConformanceRunner::opMetaScan()
{
    std::string prefix;
    const uint64_t shape = rng_.below(4);
    const auto &meta = model_.meta();
    if (shape == 0 || meta.empty()) {
        prefix.clear();
    } else if (shape == 1) {
        const size_t len = rng_.range(1, 3);
        for (size_t i = 0; i < len; ++i)
            prefix.push_back(static_cast<char>(kKeyAlphabet[rng_.below(std::size(kKeyAlphabet))]));
    } else {
        auto it = meta.begin();
        std::advance(it, static_cast<long>(rng_.below(meta.size())));
        prefix = it->first.substr(0, rng_.range(1, it->first.size()));
    }
    note("prefix=" + hex(prefix));
    std::vector<KeyValue> got;
    const std::string call = "meta_scan(prefix " + hex(prefix) + ")";
    if (!expectStatus(store_->metaScan(prefix, got), FERRY_OK, call))
        return false;
    const std::vector<KeyValue> expected = model_.metaScan(prefix);
    note("entries=" + num(got.size()));
    const size_t n = std::min(expected.size(), got.size());
    for (size_t i = 0; i < n; ++i) {
        if (expected[i].key != got[i].key)
            return fail(call + ": entry #" + num(i) + ": expected key " + hex(expected[i].key) + ", got " +
                        hex(got[i].key) + " (order must be ascending bytewise)");
        if (expected[i].value != got[i].value)
            return fail(call + ": entry #" + num(i) + " key " + hex(got[i].key) + ": expected value " +
                        hex(expected[i].value) + ", got " + hex(got[i].value));
    }
    if (expected.size() != got.size())
        return fail(call + ": expected " + num(expected.size()) + " entries, got " + num(got.size()) +
                    (got.size() > n ? "; first extra key " + hex(got[n].key) : "; first missing key " + hex(expected[n].key)));
    return true;
}

// ---- durability and housekeeping ---------------------------------------------------------------------------------

bool ConformanceRunner::opSync() { return expectStatus(store_->sync(), FERRY_OK, "sync"); }

bool ConformanceRunner::opReopen()
{
    store_.reset(); // close() implies sync(): the model keeps everything
    if (!openStore())
        return false;
    note("-> reopened");
    return fullCheck("after close and reopen");
}

bool ConformanceRunner::opMaintain()
{
    if (!store_->hasMaintain()) {
        note("(maintain is NULL)");
        return true;
    }
    // Retention is off (retention_ms = retention_bytes = 0), so however late "now" is, nothing may change.
    const uint64_t now = clockMs_ + (rng_.chance(0.5) ? 0 : 10ULL * 365 * 24 * 3600 * 1000);
    note("now=" + num(now));
    if (!expectStatus(store_->maintain(now), FERRY_OK, "maintain"))
        return false;
    return fullCheck("after maintain with retention off");
}

bool ConformanceRunner::opControl()
{
    if (rng_.chance(0.3)) {
        note("unknown opcode 0x7ffe");
        int dummy = 0;
        return expectStatus(store_->control(0x7ffe, &dummy), FERRY_E_UNSUPPORTED, "control(unknown opcode)");
    }
    ferry_storage_stats stats{};
    stats.struct_size = sizeof stats;
    const CallResult r = store_->control(FERRY_STORAGE_CONTROL_STATS, &stats);
    if (r.status == FERRY_E_UNSUPPORTED)
        return expectStatus(r, FERRY_E_UNSUPPORTED, "control(STATS)");
    if (!expectStatus(r, FERRY_OK, "control(STATS)"))
        return false;
    note("queues=" + num(stats.queue_count) + " records=" + num(stats.record_count));
    if (stats.queue_count != model_.queues().size())
        return fail("control(STATS): queue_count expected " + num(model_.queues().size()) + ", got " +
                    num(stats.queue_count));
    if (stats.record_count != model_.readableCount())
        return fail("control(STATS): record_count (readable records) expected " + num(model_.readableCount()) +
                    ", got " + num(stats.record_count));
    return true;
}

bool ConformanceRunner::opAbsentQueue()
{
    uint64_t id = kNeverCreated[rng_.below(std::size(kNeverCreated))];
    for (uint64_t candidate : kQueuePool)
        if (!model_.hasQueue(candidate) && rng_.chance(0.5))
            id = candidate;
    // Now and then with err = NULL, err_cap = 0, which the ABI allows.
    const bool nullErr = rng_.chance(0.2);
    store_->setNullErrorBuffer(nullErr);
    uint64_t a = 0, b = 0;
    std::vector<RecordCopy> records;
    CallResult r;
    std::string call;
    switch (rng_.below(7)) {
    case 0: call = "queue_bounds"; r = store_->queueBounds(id, a, b); break;
    case 1: call = "append"; r = store_->append(id, clockMs_, "h", "body", a); break;
    case 2: call = "read"; r = store_->read(id, 0, kUnlimitedRecords, kUnlimitedBytes, records); break;
    case 3: call = "ack"; r = store_->ack(id, 0); break;
    case 4: call = "truncate_prefix"; r = store_->truncatePrefix(id, 1); break;
    case 5: call = "queue_delete"; r = store_->queueDelete(id); break;
    default:
        if (capabilities_ & FERRY_STORAGE_CAP_TIME_INDEX) {
            call = "seek_time";
            r = store_->seekTime(id, clockMs_, a);
        } else {
            call = "queue_delete";
            r = store_->queueDelete(id);
        }
        break;
    }
    store_->setNullErrorBuffer(false);
    note(call + " on absent queue " + num(id) + (nullErr ? " (err=NULL)" : ""));
    if (!expectStatus(r, FERRY_E_NOT_FOUND, call + " on a queue that does not exist (" + num(id) + ")"))
        return false;
    if (!records.empty())
        return fail("read on an absent queue delivered " + num(records.size()) + " records");
    return true;
}

bool ConformanceRunner::fullCheck(const char *why)
{
    const std::string saved = current_;
    auto failWith = [&](const std::string &what) { return fail(std::string("full check ") + why + ": " + what); };

    std::vector<QueueInfo> queues;
    CallResult r = store_->queueList(queues);
    if (!r.ok())
        return failWith("queue_list failed: " + describe(r));
    std::sort(queues.begin(), queues.end());
    if (queues != model_.queueList())
        return failWith("queue_list has " + num(queues.size()) + " queues, the model " + num(model_.queues().size()) +
                        " (or flags differ)");
    for (const auto &[id, q] : model_.queues()) {
        uint64_t low = 0, next = 0;
        r = store_->queueBounds(id, low, next);
        if (!r.ok())
            return failWith("queue_bounds(" + num(id) + ") failed: " + describe(r));
        if (low != q.low() || next != q.next)
            return failWith("queue_bounds(" + num(id) + "): expected low=" + num(q.low()) + " next=" + num(q.next) +
                            ", got low=" + num(low) + " next=" + num(next));
        std::vector<RecordCopy> expected, got;
        model_.read(id, 0, kUnlimitedRecords, kUnlimitedBytes, 0, expected);
        r = store_->read(id, 0, kUnlimitedRecords, kUnlimitedBytes, got);
        if (!r.ok())
            return failWith("read(" + num(id) + ", 0, unlimited) failed: " + describe(r));
        if (!compareRecords(expected, got, std::string("full check ") + why + ": read(" + num(id) + ", 0, unlimited)"))
            return false;
    }
    std::vector<OffsetEntry> offsets;
    r = store_->offsetList(offsets);
    if (!r.ok())
        return failWith("offset_list failed: " + describe(r));
    std::sort(offsets.begin(), offsets.end());
    if (offsets != model_.offsetList())
        return failWith("offset_list has " + num(offsets.size()) + " entries, the model " +
                        num(model_.offsetList().size()) + " (or values differ)");
    std::vector<KeyValue> meta;
    r = store_->metaScan("", meta);
    if (!r.ok())
        return failWith("meta_scan(all) failed: " + describe(r));
    const std::vector<KeyValue> expectedMeta = model_.metaScan("");
    if (meta != expectedMeta)
        return failWith("meta_scan(all) returned " + num(meta.size()) + " entries, the model has " +
                        num(expectedMeta.size()) + " (or keys, order or values differ)");
    if (const std::string v = store_->takeViolation(); !v.empty())
        return failWith(v);
    current_ = saved;
    return true;
}

} // namespace ferry::storagetest
