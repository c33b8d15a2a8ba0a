#include "StoreClient.h"

#include <boost/dll/shared_library.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>

namespace storage_file_test {
namespace {

TestHost *hostOf(void *ctx)
{
    return static_cast<TestHost *>(ctx);
}

void logLine(void *ctx, int32_t level, const char *text, size_t len)
{
    hostOf(ctx)->logs.emplace_back(level, std::string(text, len));
}

ferry_status configGet(void *ctx, const char *key, char *buf, size_t cap, size_t *len)
{
    const LoadedPlugin &plugin = loadPlugin();
    std::string value;
    auto it = hostOf(ctx)->config.find(key);
    if (it != hostOf(ctx)->config.end()) {
        value = it->second;
    } else {
        bool declared = false;
        for (uint32_t i = 0; i < plugin.descriptor->config_key_count; ++i)
            if (std::strcmp(plugin.descriptor->config_keys[i].name, key) == 0) {
                value = plugin.descriptor->config_keys[i].default_value;
                declared = true;
            }
        if (!declared)
            return FERRY_E_NOT_FOUND;
    }
    if (len != nullptr)
        *len = value.size();
    if (cap == 0)
        return FERRY_E_TOO_LARGE;
    const size_t n = value.size() < cap - 1 ? value.size() : cap - 1;
    std::memcpy(buf, value.data(), n);
    buf[n] = '\0';
    return n == value.size() ? FERRY_OK : FERRY_E_TOO_LARGE;
}

uint64_t nowMs(void *)
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

uint64_t monotonicMs(void *)
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

} // namespace

TestHost::TestHost()
{
    host_.struct_size = sizeof host_;
    host_.abi_major = FERRY_ABI_MAJOR;
    host_.abi_minor = FERRY_ABI_MINOR;
    host_.ctx = this;
    host_.log = logLine;
    host_.config_get = configGet;
    host_.now_ms = nowMs;
    host_.monotonic_ms = monotonicMs;
}

bool TestHost::logged(int level, std::string_view needle) const
{
    for (const auto &[l, text] : logs)
        if (l == level && text.find(needle) != std::string::npos)
            return true;
    return false;
}

const LoadedPlugin &loadPlugin()
{
    static LoadedPlugin loaded = [] {
        // Never unloaded, like in the kernel.
        static boost::dll::shared_library library;
        boost::system::error_code ec;
        library.load(FERRY_STORAGE_FILE_PLUGIN, boost::dll::load_mode::default_mode, ec);
        if (ec) {
            std::fprintf(stderr, "cannot load %s: %s\n", FERRY_STORAGE_FILE_PLUGIN, ec.message().c_str());
            std::abort();
        }
        auto &query = library.get<ferry_status(const ferry_host *, const ferry_plugin_descriptor **, char *, size_t)>(
            FERRY_PLUGIN_ENTRY_SYMBOL);
        static TestHost queryHost;
        LoadedPlugin out;
        char err[256] = {};
        if (query(queryHost.get(), &out.descriptor, err, sizeof err) != FERRY_OK || out.descriptor == nullptr) {
            std::fprintf(stderr, "ferry_plugin_query failed: %s\n", err);
            std::abort();
        }
        out.vtable = static_cast<const ferry_storage_vtable *>(out.descriptor->vtable);
        return out;
    }();
    return loaded;
}

ferry_status StoreClient::open(const TestHost &host, const std::filesystem::path &dir, const Options &options,
                               std::unique_ptr<StoreClient> &out, std::string &error)
{
    const LoadedPlugin &plugin = loadPlugin();
    std::filesystem::create_directories(dir);
    const std::string dirText = dir.string();
    ferry_storage_options opts{};
    opts.struct_size = sizeof opts;
    opts.data_dir = dirText.c_str();
    opts.retention_ms = options.retentionMs;
    opts.retention_bytes = options.retentionBytes;
    ferry_storage *storage = nullptr;
    char err[512] = {};
    const ferry_status status = plugin.vtable->open(host.get(), &opts, &storage, err, sizeof err);
    error = err;
    if (status == FERRY_OK)
        out.reset(new StoreClient(plugin.vtable, storage));
    return status;
}

StoreClient::~StoreClient()
{
    close();
}

void StoreClient::close()
{
    if (storage_ != nullptr)
        vt_->close(storage_);
    storage_ = nullptr;
}

ferry_status StoreClient::done(ferry_status status)
{
    lastError = status == FERRY_OK ? std::string() : std::string(err_);
    err_[0] = '\0';
    return status;
}

uint64_t StoreClient::capabilities()
{
    return vt_->capabilities(storage_);
}

ferry_status StoreClient::queueCreate(uint64_t queue, uint32_t flags)
{
    return done(vt_->queue_create(storage_, queue, flags, err_, sizeof err_));
}

ferry_status StoreClient::queueDelete(uint64_t queue)
{
    return done(vt_->queue_delete(storage_, queue, err_, sizeof err_));
}

ferry_status StoreClient::queueList(std::vector<std::pair<uint64_t, uint32_t>> &out)
{
    out.clear();
    return done(vt_->queue_list(
        storage_,
        [](void *ctx, uint64_t id, uint32_t flags) -> int32_t {
            static_cast<std::vector<std::pair<uint64_t, uint32_t>> *>(ctx)->emplace_back(id, flags);
            return 0;
        },
        &out, err_, sizeof err_));
}

ferry_status StoreClient::bounds(uint64_t queue, uint64_t &low, uint64_t &next)
{
    return done(vt_->queue_bounds(storage_, queue, &low, &next, err_, sizeof err_));
}

ferry_status StoreClient::append(uint64_t queue, uint64_t storeTime, std::string_view head, std::string_view body,
                                 uint64_t *offset)
{
    uint64_t ignored = 0;
    return done(vt_->append(storage_, queue, storeTime, reinterpret_cast<const uint8_t *>(head.data()), head.size(),
                            reinterpret_cast<const uint8_t *>(body.data()), body.size(),
                            offset != nullptr ? offset : &ignored, err_, sizeof err_));
}

ferry_status StoreClient::read(uint64_t queue, uint64_t from, uint32_t maxRecords, uint64_t maxBytes,
                               std::vector<RecordCopy> &out, size_t stopAfter)
{
    struct Ctx {
        std::vector<RecordCopy> *out;
        size_t stopAfter;
    } ctx{&out, stopAfter};
    out.clear();
    return done(vt_->read(
        storage_, queue, from, maxRecords, maxBytes,
        [](void *c, const ferry_storage_record *r) -> int32_t {
            auto *x = static_cast<Ctx *>(c);
            RecordCopy copy;
            copy.offset = r->offset;
            copy.storeTimeMs = r->store_time_ms;
            copy.data.assign(reinterpret_cast<const char *>(r->data), r->len);
            copy.pointer = r->data;
            x->out->push_back(std::move(copy));
            return x->stopAfter != 0 && x->out->size() >= x->stopAfter ? 1 : 0;
        },
        &ctx, err_, sizeof err_));
}

ferry_status StoreClient::ack(uint64_t queue, uint64_t offset)
{
    return done(vt_->ack(storage_, queue, offset, err_, sizeof err_));
}

ferry_status StoreClient::truncatePrefix(uint64_t queue, uint64_t newLow)
{
    return done(vt_->truncate_prefix(storage_, queue, newLow, err_, sizeof err_));
}

ferry_status StoreClient::seekTime(uint64_t queue, uint64_t timeMs, uint64_t &offset)
{
    return done(vt_->seek_time(storage_, queue, timeMs, &offset, err_, sizeof err_));
}

ferry_status StoreClient::offsetSet(std::string_view group, uint64_t queue, uint64_t offset)
{
    return done(vt_->offset_set(storage_, group.data(), group.size(), queue, offset, err_, sizeof err_));
}

ferry_status StoreClient::offsetGet(std::string_view group, uint64_t queue, uint64_t &offset)
{
    return done(vt_->offset_get(storage_, group.data(), group.size(), queue, &offset, err_, sizeof err_));
}

ferry_status StoreClient::offsetList(std::vector<std::tuple<std::string, uint64_t, uint64_t>> &out)
{
    out.clear();
    return done(vt_->offset_list(
        storage_,
        [](void *ctx, const char *group, size_t len, uint64_t queue, uint64_t offset) -> int32_t {
            static_cast<std::vector<std::tuple<std::string, uint64_t, uint64_t>> *>(ctx)->emplace_back(
                std::string(group, len), queue, offset);
            return 0;
        },
        &out, err_, sizeof err_));
}

ferry_status StoreClient::metaPut(std::string_view key, std::string_view value)
{
    return done(vt_->meta_put(storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(),
                              reinterpret_cast<const uint8_t *>(value.data()), value.size(), err_, sizeof err_));
}

ferry_status StoreClient::metaGet(std::string_view key, std::string &value)
{
    value.clear();
    return done(vt_->meta_get(
        storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(),
        [](void *ctx, const uint8_t *, size_t, const uint8_t *v, size_t vlen) -> int32_t {
            static_cast<std::string *>(ctx)->assign(reinterpret_cast<const char *>(v), vlen);
            return 0;
        },
        &value, err_, sizeof err_));
}

ferry_status StoreClient::metaDelete(std::string_view key)
{
    return done(vt_->meta_delete(storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(), err_,
                                 sizeof err_));
}

ferry_status StoreClient::metaScan(std::string_view prefix, std::vector<std::pair<std::string, std::string>> &out)
{
    out.clear();
    return done(vt_->meta_scan(
        storage_, reinterpret_cast<const uint8_t *>(prefix.data()), prefix.size(),
        [](void *ctx, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) -> int32_t {
            static_cast<std::vector<std::pair<std::string, std::string>> *>(ctx)->emplace_back(
                std::string(reinterpret_cast<const char *>(k), klen), std::string(reinterpret_cast<const char *>(v), vlen));
            return 0;
        },
        &out, err_, sizeof err_));
}

ferry_status StoreClient::sync()
{
    return done(vt_->sync(storage_, err_, sizeof err_));
}

ferry_status StoreClient::maintain(uint64_t nowMs)
{
    return done(vt_->maintain(storage_, nowMs, err_, sizeof err_));
}

ferry_status StoreClient::stats(ferry_storage_stats &out)
{
    out = ferry_storage_stats{};
    out.struct_size = sizeof out;
    return control(FERRY_STORAGE_CONTROL_STATS, &out);
}

ferry_status StoreClient::control(int32_t op, void *arg)
{
    return done(vt_->control(storage_, op, arg, err_, sizeof err_));
}

void crashCopy(const std::filesystem::path &from, const std::filesystem::path &to)
{
    std::filesystem::create_directories(to);
    for (const auto &entry : std::filesystem::recursive_directory_iterator(from)) {
        const auto relative = std::filesystem::relative(entry.path(), from);
        if (relative == "LOCK")
            continue;
        if (entry.is_directory())
            std::filesystem::create_directories(to / relative);
        else
            std::filesystem::copy_file(entry.path(), to / relative, std::filesystem::copy_options::overwrite_existing);
    }
}

} // namespace storage_file_test
