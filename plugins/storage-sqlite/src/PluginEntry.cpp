// PluginEntry.cpp -- the C ABI face of the `sqlite` storage plugin: descriptor, vtable and ferry_plugin_query.
//
// Every exported function runs its body inside ferry::sdk::guard(), so no exception crosses the ABI; argument
// checks that the C side could get wrong (null pointers) answer FERRY_E_INVALID_ARGUMENT.
#include "SqliteStore.h"

#include <ferry/ferry_storage.h>
#include <ferry/sdk.hpp>

#include <string>

#ifndef FERRY_STORAGE_SQLITE_VERSION
#define FERRY_STORAGE_SQLITE_VERSION "0.0.0"
#endif

namespace {

using ferry::sdk::Error;
using ferry::sdk::guard;
using ferry::storage_sqlite::SqliteStore;

SqliteStore &store_of(ferry_storage *storage)
{
    if (storage == nullptr)
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: null storage instance");
    return *static_cast<SqliteStore *>(storage);
}

template <typename Pointer>
void require(Pointer pointer, const char *what)
{
    if (pointer == nullptr)
        throw Error(FERRY_E_INVALID_ARGUMENT, std::string("sqlite: ") + what + " must not be null");
}

ferry_status storage_open(const ferry_host *host, const ferry_storage_options *options, ferry_storage **storage_out,
                          char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(options, "options");
        require(storage_out, "storage_out");
        *storage_out = nullptr;
        const ferry_storage_options opts = ferry::sdk::copy_struct(options);
        *storage_out = SqliteStore::open(host, opts).release();
        return FERRY_OK;
    });
}

void storage_close(ferry_storage *storage)
{
    if (storage == nullptr)
        return;
    auto *store = static_cast<SqliteStore *>(storage);
    const ferry_host *host = store->host();
    ferry::sdk::guard_void(host, [&] {
        std::unique_ptr<SqliteStore> owned(store);
        owned->close();
    });
}

uint64_t storage_capabilities(ferry_storage *storage)
{
    return storage != nullptr ? static_cast<SqliteStore *>(storage)->capabilities() : 0;
}

ferry_status storage_queue_create(ferry_storage *storage, uint64_t queue_id, uint32_t flags, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).queueCreate(queue_id, flags);
        return FERRY_OK;
    });
}

ferry_status storage_queue_delete(ferry_storage *storage, uint64_t queue_id, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).queueDelete(queue_id);
        return FERRY_OK;
    });
}

ferry_status storage_queue_list(ferry_storage *storage, ferry_storage_queue_sink sink, void *sink_ctx, char *err,
                                size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(sink, "sink");
        store_of(storage).queueList(sink, sink_ctx);
        return FERRY_OK;
    });
}

ferry_status storage_queue_bounds(ferry_storage *storage, uint64_t queue_id, uint64_t *low_out, uint64_t *next_out,
                                  char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(low_out, "low_out");
        require(next_out, "next_out");
        store_of(storage).queueBounds(queue_id, low_out, next_out);
        return FERRY_OK;
    });
}

ferry_status storage_append(ferry_storage *storage, uint64_t queue_id, uint64_t store_time_ms, const uint8_t *head,
                            size_t head_len, const uint8_t *body, size_t body_len, uint64_t *offset_out, char *err,
                            size_t err_cap)
{
    return guard(err, err_cap, [&] {
        const uint64_t offset = store_of(storage).append(queue_id, store_time_ms, head, head_len, body, body_len);
        if (offset_out != nullptr)
            *offset_out = offset;
        return FERRY_OK;
    });
}

ferry_status storage_read(ferry_storage *storage, uint64_t queue_id, uint64_t from_offset, uint32_t max_records,
                          uint64_t max_bytes, ferry_storage_record_sink sink, void *sink_ctx, char *err,
                          size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(sink, "sink");
        store_of(storage).read(queue_id, from_offset, max_records, max_bytes, sink, sink_ctx);
        return FERRY_OK;
    });
}

ferry_status storage_ack(ferry_storage *storage, uint64_t queue_id, uint64_t offset, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).ack(queue_id, offset);
        return FERRY_OK;
    });
}

ferry_status storage_truncate_prefix(ferry_storage *storage, uint64_t queue_id, uint64_t new_low, char *err,
                                     size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).truncatePrefix(queue_id, new_low);
        return FERRY_OK;
    });
}

ferry_status storage_seek_time(ferry_storage *storage, uint64_t queue_id, uint64_t time_ms, uint64_t *offset_out,
                               char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(offset_out, "offset_out");
        *offset_out = store_of(storage).seekTime(queue_id, time_ms);
        return FERRY_OK;
    });
}

ferry_status storage_offset_set(ferry_storage *storage, const char *group, size_t group_len, uint64_t queue_id,
                                uint64_t offset, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).offsetSet(group, group_len, queue_id, offset);
        return FERRY_OK;
    });
}

ferry_status storage_offset_get(ferry_storage *storage, const char *group, size_t group_len, uint64_t queue_id,
                                uint64_t *offset_out, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(offset_out, "offset_out");
        if (!store_of(storage).offsetGet(group, group_len, queue_id, offset_out))
            throw Error(FERRY_E_NOT_FOUND, "sqlite: no offset stored for group '" +
                                               std::string(group != nullptr ? group : "", group_len) + "' on queue " +
                                               std::to_string(queue_id));
        return FERRY_OK;
    });
}

ferry_status storage_offset_list(ferry_storage *storage, ferry_storage_offset_sink sink, void *sink_ctx, char *err,
                                 size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(sink, "sink");
        store_of(storage).offsetList(sink, sink_ctx);
        return FERRY_OK;
    });
}

ferry_status storage_meta_put(ferry_storage *storage, const uint8_t *key, size_t key_len, const uint8_t *value,
                              size_t value_len, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).metaPut(key, key_len, value, value_len);
        return FERRY_OK;
    });
}

ferry_status storage_meta_get(ferry_storage *storage, const uint8_t *key, size_t key_len, ferry_storage_kv_sink sink,
                              void *sink_ctx, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(sink, "sink");
        if (!store_of(storage).metaGet(key, key_len, sink, sink_ctx))
            throw Error(FERRY_E_NOT_FOUND, "sqlite: meta key not found");
        return FERRY_OK;
    });
}

ferry_status storage_meta_delete(ferry_storage *storage, const uint8_t *key, size_t key_len, char *err,
                                 size_t err_cap)
{
    return guard(err, err_cap, [&] {
        if (!store_of(storage).metaDelete(key, key_len))
            throw Error(FERRY_E_NOT_FOUND, "sqlite: meta key not found");
        return FERRY_OK;
    });
}

ferry_status storage_meta_scan(ferry_storage *storage, const uint8_t *prefix, size_t prefix_len,
                               ferry_storage_kv_sink sink, void *sink_ctx, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        require(sink, "sink");
        store_of(storage).metaScan(prefix, prefix_len, sink, sink_ctx);
        return FERRY_OK;
    });
}

ferry_status storage_sync(ferry_storage *storage, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).sync();
        return FERRY_OK;
    });
}

ferry_status storage_maintain(ferry_storage *storage, uint64_t now_ms, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        store_of(storage).maintain(now_ms);
        return FERRY_OK;
    });
}

ferry_status storage_control(ferry_storage *storage, int32_t op, void *arg, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&] {
        SqliteStore &store = store_of(storage);
        if (op == FERRY_STORAGE_CONTROL_STATS) {
            store.stats(static_cast<ferry_storage_stats *>(arg));
            return FERRY_OK;
        }
        throw Error(FERRY_E_UNSUPPORTED, "sqlite: control opcode " + std::to_string(op) + " is not supported");
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

const ferry_config_key kConfigKeys[] = {
    {sizeof(ferry_config_key), ferry::storage_sqlite::kCacheKibKey, ferry::storage_sqlite::kCacheKibDefault,
     "SQLite page cache size in KiB (64 to 16777216)"},
    {sizeof(ferry_config_key), ferry::storage_sqlite::kWalAutocheckpointKey,
     ferry::storage_sqlite::kWalAutocheckpointDefault,
     "WAL pages after which a commit checkpoints the WAL into ferry.db (1 to 16777216)"},
};

const ferry_plugin_descriptor kDescriptor = {
    sizeof(ferry_plugin_descriptor),
    FERRY_ABI_MAJOR,
    FERRY_ABI_MINOR,
    FERRY_PLUGIN_KIND_STORAGE,
    "sqlite",
    FERRY_STORAGE_SQLITE_VERSION,
    "Apache-2.0",
    "Queues, consumer offsets and metadata in one SQLite database (WAL, group commit)",
    kConfigKeys,
    sizeof kConfigKeys / sizeof kConfigKeys[0],
    &kVtable,
};

// Same major, and a kernel minor at least the one this plugin was compiled against.
bool abi_compatible(unsigned kernel_major, unsigned kernel_minor)
{
    const unsigned plugin_minor = FERRY_ABI_MINOR;
    return kernel_major == FERRY_ABI_MAJOR && kernel_minor >= plugin_minor;
}

} // namespace

FERRY_PLUGIN_ENTRY
{
    return guard(err, err_cap, [&] {
        require(descriptor_out, "descriptor_out");
        if (host != nullptr && !abi_compatible(host->abi_major, host->abi_minor))
            throw Error(FERRY_E_ABI_MISMATCH, "sqlite storage plugin needs ABI " + std::to_string(FERRY_ABI_MAJOR) +
                                                  "." + std::to_string(FERRY_ABI_MINOR) + " or a newer minor; the "
                                                  "kernel offers " + std::to_string(host->abi_major) + "." +
                                                  std::to_string(host->abi_minor));
        *descriptor_out = &kDescriptor;
        return FERRY_OK;
    });
}
