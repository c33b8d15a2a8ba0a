/*
 * Compiled (syntax only) by abi.c99_headers.* with -std=c99 -pedantic -Werror -Wall -Wextra, with every C compiler
 * found, and as C++ by abi.cxx_headers. It includes the three public headers, uses every struct and function-pointer
 * type they declare, and checks at compile time that struct_size is the first member (offset 0, uint32_t) of every
 * struct, which is what lets old and new sides copy min(struct_size, sizeof) of each other's structs.
 */
#include <ferry/ferry_plugin.h>
#include <ferry/ferry_protocol.h>
#include <ferry/ferry_storage.h>

#include <stddef.h>
#include <string.h>

/* C99 has no _Static_assert: a negative array size is the compile-time failure. */
#define FERRY_CHECK(name, condition) typedef char ferry_check_##name[(condition) ? 1 : -1]
#define FERRY_CHECK_VERSIONED(type)                                                                                \
    FERRY_CHECK(type##_struct_size_first, offsetof(type, struct_size) == 0);                                       \
    FERRY_CHECK(type##_struct_size_is_u32, sizeof(((type *)0)->struct_size) == sizeof(uint32_t))

FERRY_CHECK_VERSIONED(ferry_host);
FERRY_CHECK_VERSIONED(ferry_config_key);
FERRY_CHECK_VERSIONED(ferry_plugin_descriptor);
FERRY_CHECK_VERSIONED(ferry_storage_options);
FERRY_CHECK_VERSIONED(ferry_storage_record);
FERRY_CHECK_VERSIONED(ferry_storage_stats);
FERRY_CHECK_VERSIONED(ferry_storage_vtable);
FERRY_CHECK_VERSIONED(ferry_message);
FERRY_CHECK_VERSIONED(ferry_subscribe_options);
FERRY_CHECK_VERSIONED(ferry_delivery);
FERRY_CHECK_VERSIONED(ferry_result);
FERRY_CHECK_VERSIONED(ferry_listener_spec);
FERRY_CHECK_VERSIONED(ferry_protocol_host);
FERRY_CHECK_VERSIONED(ferry_protocol_vtable);
FERRY_CHECK_VERSIONED(ferry_topic_info);
FERRY_CHECK_VERSIONED(ferry_queue_info);

FERRY_CHECK(status_is_i32, sizeof(ferry_status) == sizeof(int32_t));
FERRY_CHECK(abi_major_fits_u16, FERRY_ABI_MAJOR >= 0 && FERRY_ABI_MAJOR <= 65535);
FERRY_CHECK(abi_minor_fits_u16, FERRY_ABI_MINOR >= 0 && FERRY_ABI_MINOR <= 65535);
FERRY_CHECK(offset_committed_is_max, FERRY_OFFSET_COMMITTED == UINT64_MAX);

/* Sinks of every sink type. */
static int32_t record_sink(void *ctx, const ferry_storage_record *record)
{
    (void)ctx;
    return record->len > 0 ? 0 : 1;
}
static int32_t queue_sink(void *ctx, uint64_t queue_id, uint32_t flags)
{
    (void)ctx;
    return (int32_t)((queue_id + flags) & 1u);
}
static int32_t offset_sink(void *ctx, const char *group, size_t group_len, uint64_t queue_id, uint64_t offset)
{
    (void)ctx;
    (void)group;
    return (int32_t)((group_len + queue_id + offset) & 1u);
}
static int32_t kv_sink(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    (void)ctx;
    (void)key;
    (void)value;
    return (int32_t)((key_len + value_len) & 1u);
}

static int32_t prepared_sink(void *ctx, uint64_t handle, const char *queue, size_t queue_len, const char *group,
                             size_t group_len, uint64_t store_time_ms)
{
    (void)ctx;
    (void)queue;
    (void)group;
    return (int32_t)((handle + queue_len + group_len + store_time_ms + FERRY_PREPARED_COMMIT + FERRY_PREPARED_ROLLBACK) & 1u);
}

static int32_t topic_sink(void *ctx, const ferry_topic_info *topic)
{
    (void)ctx;
    return (int32_t)((topic->read_queues + topic->perm) & 1u);
}

/* Uses every struct, filling struct_size as a caller must. Returns a value so nothing is "set but unused". */
size_t ferry_abi_use_every_struct(const ferry_host *host);
size_t ferry_abi_use_every_struct(const ferry_host *host)
{
    ferry_config_key key;
    ferry_plugin_descriptor descriptor;
    ferry_storage_options options;
    ferry_storage_record record;
    ferry_storage_stats stats;
    ferry_storage_vtable storage_vtable;
    ferry_message message;
    ferry_subscribe_options subscribe;
    ferry_delivery delivery;
    ferry_result result;
    ferry_listener_spec listener;
    ferry_protocol_host protocol_host;
    ferry_protocol_vtable protocol_vtable;
    ferry_topic_info topic;
    ferry_queue_info queue_info;
    ferry_topic_sink sink5 = topic_sink;
    ferry_prepared_sink sink6 = prepared_sink;
    ferry_plugin_query_fn query = NULL;
    ferry_storage_record_sink sink1 = record_sink;
    ferry_storage_queue_sink sink2 = queue_sink;
    ferry_storage_offset_sink sink3 = offset_sink;
    ferry_storage_kv_sink sink4 = kv_sink;
    ferry_storage *storage = NULL;
    ferry_conn *conn = NULL;
    ferry_session *session = NULL;
    ferry_protocol *protocol = NULL;
    size_t total = 0;

    memset(&key, 0, sizeof key);
    key.struct_size = sizeof key;
    key.name = "key";
    memset(&descriptor, 0, sizeof descriptor);
    descriptor.struct_size = sizeof descriptor;
    descriptor.abi_major = FERRY_ABI_MAJOR;
    descriptor.abi_minor = FERRY_ABI_MINOR;
    descriptor.kind = FERRY_PLUGIN_KIND_STORAGE;
    descriptor.config_keys = &key;
    descriptor.config_key_count = 1;
    descriptor.vtable = &storage_vtable;
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    memset(&record, 0, sizeof record);
    record.struct_size = sizeof record;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    memset(&storage_vtable, 0, sizeof storage_vtable);
    storage_vtable.struct_size = sizeof storage_vtable;
    memset(&message, 0, sizeof message);
    message.struct_size = sizeof message;
    message.flags = FERRY_MESSAGE_PERSISTENT;
    message.deliver_at_ms = 0;
    memset(&subscribe, 0, sizeof subscribe);
    subscribe.struct_size = sizeof subscribe;
    subscribe.flags = FERRY_SUBSCRIBE_AUTO_ACK | FERRY_SUBSCRIBE_EXCLUSIVE;
    memset(&delivery, 0, sizeof delivery);
    delivery.struct_size = sizeof delivery;
    delivery.message = &message;
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    result.status = FERRY_E_CONFIG;
    memset(&listener, 0, sizeof listener);
    listener.struct_size = sizeof listener;
    memset(&protocol_host, 0, sizeof protocol_host);
    protocol_host.struct_size = sizeof protocol_host;
    protocol_host.base = host;
    memset(&protocol_vtable, 0, sizeof protocol_vtable);
    protocol_vtable.struct_size = sizeof protocol_vtable;
    protocol_vtable.listeners = &listener;
    protocol_vtable.listener_count = 1;

    memset(&topic, 0, sizeof topic);
    topic.struct_size = sizeof topic;
    topic.perm = FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE | FERRY_TOPIC_PERM_INHERIT;
    topic.flags = FERRY_TOPIC_ORDERED | FERRY_TOPIC_SYSTEM;
    memset(&queue_info, 0, sizeof queue_info);
    queue_info.struct_size = sizeof queue_info;

    total += topic.struct_size + queue_info.struct_size + (sink5 != NULL) + (sink6 != NULL) + FERRY_TOPIC_CREATE_ONLY;
    total += key.struct_size + descriptor.struct_size + options.struct_size + record.struct_size + stats.struct_size;
    total += storage_vtable.struct_size + message.struct_size + subscribe.struct_size + delivery.struct_size;
    total += result.struct_size + listener.struct_size + protocol_host.struct_size + protocol_vtable.struct_size;
    total += (query == NULL) + (sink1 != NULL) + (sink2 != NULL) + (sink3 != NULL) + (sink4 != NULL);
    total += (storage == NULL) + (conn == NULL) + (session == NULL) + (protocol == NULL);
    if (host != NULL && host->log != NULL)
        host->log(host->ctx, FERRY_LOG_INFO, "used", 4);
    return total;
}

/* The entry-point macro expands to a valid C99 definition. */
FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    *descriptor_out = NULL;
    return FERRY_E_UNSUPPORTED;
}
