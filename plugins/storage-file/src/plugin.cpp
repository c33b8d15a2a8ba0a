// plugin.cpp -- the C ABI surface of the storage-file plugin: descriptor, config keys and the ferry_storage_vtable.
//
// Every exported function body runs inside ferry::sdk::guard (or guard_void), so no exception crosses the ABI.
// Threading follows ferry_storage.h: one caller at a time per instance; instances share no mutable state.
#include "FileStore.h"

#include <ferry/ferry_storage.h>
#include <ferry/sdk.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>

// FERRY_STORAGE_FILE_FAULTS: the test build of this plugin (plugins/storage-file/tests, target storage-file-faults;
// never installed). It is named "file-faults" and, while the file FAIL_WRITES exists in its data dir, refuses every
// write that needs disk space (queue_create, append, offset_set, meta_put) with FERRY_E_NO_SPACE, as a full disk
// does, so end-to-end tests can show what clients see when the disk is full and that nothing confirmed is lost.

// The opaque instance type of ferry_storage.h.
struct ferry_storage {
    const ferry_host *host = nullptr;
    std::unique_ptr<ferry::storage_file::FileStore> store;
#ifdef FERRY_STORAGE_FILE_FAULTS
    std::filesystem::path failMarker; // <data_dir>/FAIL_WRITES
#endif
};

namespace {

using ferry::sdk::Error;
using ferry::sdk::guard;
using ferry::storage_file::FileStore;
using ferry::storage_file::StoreConfig;

constexpr uint64_t kMinSegmentBytes = 4096;
constexpr uint64_t kMaxSegmentBytes = uint64_t{1} << 40;

const ferry_config_key kConfigKeys[] = {
    {sizeof(ferry_config_key), "segment_bytes", "268435456",
     "size of one commit-log segment file in bytes (>= 4096); also the largest record"},
    {sizeof(ferry_config_key), "checkpoint_bytes", "67108864",
     "commit-log bytes between index checkpoints (bounds the log scanned at open after a crash)"},
    {sizeof(ferry_config_key), "journal_compact_bytes", "16777216",
     "state journal size that triggers rewriting it as a snapshot"},
};

uint64_t config_size(const ferry_host *host, const char *key, uint64_t default_value, uint64_t minimum,
                     uint64_t maximum)
{
    if (host == nullptr || host->config_get == nullptr)
        return default_value;
    const std::string text = ferry::sdk::config(host, key);
    if (text.empty())
        return default_value;
    char *end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    if (errno != 0 || end == text.c_str() || *end != '\0' || text[0] == '-')
        throw Error(FERRY_E_CONFIG, std::string("file.") + key + " must be a whole number of bytes, not '" + text + "'");
    if (value < minimum || value > maximum)
        throw Error(FERRY_E_CONFIG, std::string("file.") + key + " = " + text + " is outside [" +
                                        std::to_string(minimum) + ", " + std::to_string(maximum) + "]");
    return value;
}

ferry_status storage_open(const ferry_host *host, const ferry_storage_options *options, ferry_storage **storage_out,
                          char *err, size_t err_cap)
{
    return guard(err, err_cap, [&]() -> ferry_status {
        if (options == nullptr || storage_out == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "open: options and storage_out are required");
        *storage_out = nullptr;
        const ferry_storage_options opts = ferry::sdk::copy_struct(options);
        StoreConfig config;
        config.segment_bytes = config_size(host, "segment_bytes", config.segment_bytes, kMinSegmentBytes,
                                           kMaxSegmentBytes);
        config.checkpoint_bytes = config_size(host, "checkpoint_bytes", config.checkpoint_bytes, 4096,
                                              kMaxSegmentBytes);
        config.journal_compact_bytes =
            config_size(host, "journal_compact_bytes", config.journal_compact_bytes, 4096, kMaxSegmentBytes);
        auto instance = std::make_unique<ferry_storage>();
        instance->host = host;
        instance->store = std::make_unique<FileStore>(host, opts, config);
#ifdef FERRY_STORAGE_FILE_FAULTS
        instance->failMarker = std::filesystem::u8path(opts.data_dir ? opts.data_dir : ".") / "FAIL_WRITES";
#endif
        *storage_out = instance.release();
        return FERRY_OK;
    });
}

void storage_close(ferry_storage *storage)
{
    if (storage == nullptr)
        return;
    ferry::sdk::guard_void(storage->host, [&] { storage->store->close(); });
    ferry::sdk::guard_void(storage->host, [&] { delete storage; });
}

uint64_t storage_capabilities(ferry_storage *)
{
    return FERRY_STORAGE_CAP_DURABLE_SYNC | FERRY_STORAGE_CAP_TIME_INDEX | FERRY_STORAGE_CAP_ZERO_COPY_READ |
           FERRY_STORAGE_CAP_RETENTION;
}

// A write that needs disk space: refused while the fault build's marker file exists (see the top of this file).
void check_space([[maybe_unused]] ferry_storage *storage)
{
#ifdef FERRY_STORAGE_FILE_FAULTS
    std::error_code ec;
    if (storage != nullptr && std::filesystem::exists(storage->failMarker, ec))
        throw Error(FERRY_E_NO_SPACE, "no space left on device (simulated: FAIL_WRITES exists in the data dir)");
#endif
}

FileStore &store_of(ferry_storage *storage)
{
    if (storage == nullptr || !storage->store)
        throw Error(FERRY_E_INVALID_ARGUMENT, "storage instance is NULL");
    return *storage->store;
}

std::string_view bytes_view(const void *data, size_t len)
{
    if (data == nullptr && len != 0)
        throw Error(FERRY_E_INVALID_ARGUMENT, "NULL pointer with a non-zero length");
    return len == 0 ? std::string_view() : std::string_view(static_cast<const char *>(data), len);
}

ferry_status storage_queue_create(ferry_storage *s, uint64_t queue_id, uint32_t flags, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        check_space(s);
        store_of(s).queue_create(queue_id, flags);
        return FERRY_OK;
    });
}

ferry_status storage_queue_delete(ferry_storage *s, uint64_t queue_id, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(s).queue_delete(queue_id);
        return FERRY_OK;
    });
}

ferry_status storage_queue_list(ferry_storage *s, ferry_storage_queue_sink sink, void *ctx, char *err,
                                size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (sink == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "queue_list: sink is NULL");
        store_of(s).queue_list(sink, ctx);
        return FERRY_OK;
    });
}

ferry_status storage_queue_bounds(ferry_storage *s, uint64_t queue_id, uint64_t *low_out, uint64_t *next_out,
                                  char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        uint64_t low = 0, next = 0;
        store_of(s).queue_bounds(queue_id, low, next);
        if (low_out != nullptr)
            *low_out = low;
        if (next_out != nullptr)
            *next_out = next;
        return FERRY_OK;
    });
}

ferry_status storage_append(ferry_storage *s, uint64_t queue_id, uint64_t store_time_ms, const uint8_t *head,
                            size_t head_len, const uint8_t *body, size_t body_len, uint64_t *offset_out, char *err,
                            size_t err_cap)
{
    return guard(err, err_cap, [&] {
        check_space(s);
        const uint64_t offset = store_of(s).append(queue_id, store_time_ms, head, head_len, body, body_len);
        if (offset_out != nullptr)
            *offset_out = offset;
        return FERRY_OK;
    });
}

ferry_status storage_read(ferry_storage *s, uint64_t queue_id, uint64_t from_offset, uint32_t max_records,
                          uint64_t max_bytes, ferry_storage_record_sink sink, void *ctx, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(s).read(queue_id, from_offset, max_records, max_bytes, sink, ctx);
        return FERRY_OK;
    });
}

ferry_status storage_ack(ferry_storage *s, uint64_t queue_id, uint64_t offset, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(s).ack(queue_id, offset);
        return FERRY_OK;
    });
}

ferry_status storage_truncate_prefix(ferry_storage *s, uint64_t queue_id, uint64_t new_low, char *err,
                                     size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(s).truncate_prefix(queue_id, new_low);
        return FERRY_OK;
    });
}

ferry_status storage_seek_time(ferry_storage *s, uint64_t queue_id, uint64_t time_ms, uint64_t *offset_out,
                               char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (offset_out == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "seek_time: offset_out is NULL");
        *offset_out = store_of(s).seek_time(queue_id, time_ms);
        return FERRY_OK;
    });
}

ferry_status storage_offset_set(ferry_storage *s, const char *group, size_t group_len, uint64_t queue_id,
                                uint64_t offset, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        check_space(s);
        store_of(s).offset_set(bytes_view(group, group_len), queue_id, offset);
        return FERRY_OK;
    });
}

ferry_status storage_offset_get(ferry_storage *s, const char *group, size_t group_len, uint64_t queue_id,
                                uint64_t *offset_out, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (offset_out == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "offset_get: offset_out is NULL");
        const std::string_view g = bytes_view(group, group_len);
        if (!store_of(s).offset_get(g, queue_id, *offset_out))
            throw Error(FERRY_E_NOT_FOUND, "no offset for group '" + std::string(g) + "' on queue " +
                                               std::to_string(queue_id));
        return FERRY_OK;
    });
}

ferry_status storage_offset_list(ferry_storage *s, ferry_storage_offset_sink sink, void *ctx, char *err,
                                 size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (sink == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "offset_list: sink is NULL");
        store_of(s).offset_list(sink, ctx);
        return FERRY_OK;
    });
}

ferry_status storage_meta_put(ferry_storage *s, const uint8_t *key, size_t key_len, const uint8_t *value,
                              size_t value_len, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        check_space(s);
        store_of(s).meta_put(bytes_view(key, key_len), bytes_view(value, value_len));
        return FERRY_OK;
    });
}

ferry_status storage_meta_get(ferry_storage *s, const uint8_t *key, size_t key_len, ferry_storage_kv_sink sink,
                              void *ctx, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (sink == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "meta_get: sink is NULL");
        if (!store_of(s).meta_get(bytes_view(key, key_len), sink, ctx))
            throw Error(FERRY_E_NOT_FOUND, "metadata key not found");
        return FERRY_OK;
    });
}

ferry_status storage_meta_delete(ferry_storage *s, const uint8_t *key, size_t key_len, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (!store_of(s).meta_delete(bytes_view(key, key_len)))
            throw Error(FERRY_E_NOT_FOUND, "metadata key not found");
        return FERRY_OK;
    });
}

ferry_status storage_meta_scan(ferry_storage *s, const uint8_t *prefix, size_t prefix_len,
                               ferry_storage_kv_sink sink, void *ctx, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (sink == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "meta_scan: sink is NULL");
        store_of(s).meta_scan(bytes_view(prefix, prefix_len), sink, ctx);
        return FERRY_OK;
    });
}

ferry_status storage_sync(ferry_storage *s, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(s).sync();
        return FERRY_OK;
    });
}

ferry_status storage_maintain(ferry_storage *s, uint64_t now_ms, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(s).maintain(now_ms);
        return FERRY_OK;
    });
}

ferry_status storage_control(ferry_storage *s, int32_t op, void *arg, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        FileStore &store = store_of(s);
        if (op != FERRY_STORAGE_CONTROL_STATS)
            throw Error(FERRY_E_UNSUPPORTED, "control opcode " + std::to_string(op) + " is not supported");
        auto *out = static_cast<ferry_storage_stats *>(arg);
        if (out == nullptr || out->struct_size < sizeof(uint32_t))
            throw Error(FERRY_E_INVALID_ARGUMENT, "control(STATS): arg must be a ferry_storage_stats with struct_size");
        const ferry_storage_stats stats = store.stats();
        // Fill as much as the caller's (possibly older or newer) struct holds; keep its struct_size.
        const uint32_t caller_size = out->struct_size;
        const size_t n = caller_size < sizeof stats ? caller_size : sizeof stats;
        std::memcpy(static_cast<void *>(out), &stats, n);
        out->struct_size = caller_size;
        return FERRY_OK;
    });
}

const ferry_storage_vtable kVtable = {
    sizeof(ferry_storage_vtable),
    storage_open,
    storage_close,
    storage_capabilities,
    storage_queue_create,
    storage_queue_delete,
    storage_queue_list,
    storage_queue_bounds,
    storage_append,
    storage_read,
    storage_ack,
    storage_truncate_prefix,
    storage_seek_time,
    storage_offset_set,
    storage_offset_get,
    storage_offset_list,
    storage_meta_put,
    storage_meta_get,
    storage_meta_delete,
    storage_meta_scan,
    storage_sync,
    storage_maintain,
    storage_control,
};

const ferry_plugin_descriptor kDescriptor = {
    sizeof(ferry_plugin_descriptor),
    FERRY_ABI_MAJOR,
    FERRY_ABI_MINOR,
    FERRY_PLUGIN_KIND_STORAGE,
#ifdef FERRY_STORAGE_FILE_FAULTS
    "file-faults",
#else
    "file",
#endif
    "0.1.0",
    "Apache-2.0",
    "commit log + per-queue index + state journal on plain files, memory-mapped reads, group commit",
    kConfigKeys,
    static_cast<uint32_t>(sizeof kConfigKeys / sizeof kConfigKeys[0]),
    &kVtable,
};

} // namespace

FERRY_PLUGIN_ENTRY
{
    return guard(err, err_cap, [&]() -> ferry_status {
        if (descriptor_out == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "descriptor_out is NULL");
        *descriptor_out = nullptr;
        if (host != nullptr && host->abi_major != FERRY_ABI_MAJOR)
            throw Error(FERRY_E_ABI_MISMATCH, "storage-file was built for ABI " + std::to_string(FERRY_ABI_MAJOR) +
                                                  "." + std::to_string(FERRY_ABI_MINOR) + ", the kernel offers " +
                                                  std::to_string(host->abi_major) + "." +
                                                  std::to_string(host->abi_minor));
        *descriptor_out = &kDescriptor;
        return FERRY_OK;
    });
}
