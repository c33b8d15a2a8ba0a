/*
 * ferry_storage.h -- the storage plugin contract (kind FERRY_PLUGIN_KIND_STORAGE).
 *
 * A storage plugin keeps, beside each other in one data directory:
 *  - per-queue logs: append-only records with 64-bit offsets that start at 0 and grow by 1 per record,
 *    read in order through a callback sink, acked one by one, cut from the front (truncate_prefix);
 *  - consumer offsets: (group, queue) -> offset;
 *  - a metadata key/value space the kernel uses for topics, exchanges, bindings, queues, users.
 *
 * Durability: nothing is promised durable until sync() returns FERRY_OK; after that, everything appended,
 * acked, truncated, deleted or put before the sync call survives a crash of the process (kill -9) and a reopen.
 * The kernel batches many appends and then calls sync() once (group commit); in `async` flush mode it calls
 * sync() on a timer instead. close() implies sync().
 *
 * Threading: the kernel calls an instance from one thread at a time (its storage thread); calls are never
 * concurrent on one instance, but successive calls may come from different threads. Sinks are called on the
 * calling thread before the call returns.
 *
 * Errors: every call that can fail returns a ferry_status and writes text to (err, err_cap), see ferry_plugin.h.
 * A record whose checksum does not match is reported by read() as FERRY_E_CORRUPT, after the sink has received
 * every good record before it; reading again from the next offset continues past it.
 */
#ifndef FERRY_STORAGE_H
#define FERRY_STORAGE_H

#include "ferry_plugin.h"

/* Capability bits returned by capabilities(). */
#define FERRY_STORAGE_CAP_DURABLE_SYNC (1u << 0)   /* sync() survives power loss (fsync/FlushFileBuffers) */
#define FERRY_STORAGE_CAP_TIME_INDEX (1u << 1)     /* seek_time() is implemented */
#define FERRY_STORAGE_CAP_ZERO_COPY_READ (1u << 2) /* read() sinks see memory-mapped file bytes, not copies */
#define FERRY_STORAGE_CAP_RETENTION (1u << 3)      /* maintain() applies retention_ms / retention_bytes */

/* Queue flags (queue_create). Stored with the queue and reported back by queue_list. */
#define FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED (1u << 0) /* age/size retention never removes unacked records */

/* control() opcodes. Unknown opcodes return FERRY_E_UNSUPPORTED. */
#define FERRY_STORAGE_CONTROL_STATS 1 /* arg: ferry_storage_stats *, caller-owned, struct_size set by caller */

typedef struct ferry_storage ferry_storage; /* plugin-owned instance, opaque to the kernel */

typedef struct ferry_storage_options {
    uint32_t struct_size;
    const char *data_dir;     /* UTF-8 directory the plugin owns exclusively; created by the kernel. Borrowed. */
    uint64_t retention_ms;    /* 0: keep by age forever */
    uint64_t retention_bytes; /* 0: no size limit */
} ferry_storage_options;

/* One record handed to a read sink. Everything in it is borrowed for the duration of the sink call. */
typedef struct ferry_storage_record {
    uint32_t struct_size;
    uint64_t queue_id;
    uint64_t offset;
    uint64_t store_time_ms;
    const uint8_t *data; /* head bytes followed by body bytes, exactly as appended */
    size_t len;
} ferry_storage_record;

typedef struct ferry_storage_stats {
    uint32_t struct_size;
    uint64_t bytes_on_disk;
    uint64_t queue_count;
    uint64_t record_count; /* records currently readable (appended, not acked, not truncated) */
} ferry_storage_stats;

/* Sinks return 0 to continue, non-zero to stop early (the call then returns FERRY_OK). */
typedef int32_t (*ferry_storage_record_sink)(void *sink_ctx, const ferry_storage_record *record);
typedef int32_t (*ferry_storage_queue_sink)(void *sink_ctx, uint64_t queue_id, uint32_t flags);
typedef int32_t (*ferry_storage_offset_sink)(void *sink_ctx, const char *group, size_t group_len, uint64_t queue_id,
                                             uint64_t offset);
typedef int32_t (*ferry_storage_kv_sink)(void *sink_ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                                         size_t value_len);

typedef struct ferry_storage_vtable {
    uint32_t struct_size;

    /* Opens (creating if empty) the store in options->data_dir. *storage_out: plugin-owned until close(). */
    ferry_status (*open)(const ferry_host *host, const ferry_storage_options *options, ferry_storage **storage_out,
                         char *err, size_t err_cap);
    /* Syncs and frees the instance. The pointer is invalid afterwards. */
    void (*close)(ferry_storage *storage);
    /* FERRY_STORAGE_CAP_* bits. */
    uint64_t (*capabilities)(ferry_storage *storage);

    /* ---- queues ---- */
    /* FERRY_E_ALREADY_EXISTS when queue_id exists. A new queue's first offset is 0. */
    ferry_status (*queue_create)(ferry_storage *storage, uint64_t queue_id, uint32_t flags, char *err, size_t err_cap);
    /* Removes the queue, its records and every consumer offset for it. FERRY_E_NOT_FOUND when absent. */
    ferry_status (*queue_delete)(ferry_storage *storage, uint64_t queue_id, char *err, size_t err_cap);
    ferry_status (*queue_list)(ferry_storage *storage, ferry_storage_queue_sink sink, void *sink_ctx, char *err,
                               size_t err_cap);
    /* *low_out: first offset still readable (or next when empty); *next_out: the offset the next append gets. */
    ferry_status (*queue_bounds)(ferry_storage *storage, uint64_t queue_id, uint64_t *low_out, uint64_t *next_out,
                                 char *err, size_t err_cap);

    /* ---- records ---- */
    /*
     * Appends one record made of head then body (either may be empty; both borrowed) and returns its offset.
     * The record is readable at once; durable after the next successful sync().
     */
    ferry_status (*append)(ferry_storage *storage, uint64_t queue_id, uint64_t store_time_ms, const uint8_t *head,
                           size_t head_len, const uint8_t *body, size_t body_len, uint64_t *offset_out, char *err,
                           size_t err_cap);
    /*
     * Calls sink for records with offset >= from_offset, in offset order, skipping acked and truncated ones, until
     * max_records records or max_bytes bytes (at least one record is delivered when any is available) or the end.
     */
    ferry_status (*read)(ferry_storage *storage, uint64_t queue_id, uint64_t from_offset, uint32_t max_records,
                         uint64_t max_bytes, ferry_storage_record_sink sink, void *sink_ctx, char *err,
                         size_t err_cap);
    /* Marks one record consumed; read() no longer returns it. Acking an acked or truncated offset is FERRY_OK. */
    ferry_status (*ack)(ferry_storage *storage, uint64_t queue_id, uint64_t offset, char *err, size_t err_cap);
    /* Forgets every record with offset < new_low. new_low beyond next is clamped to next. */
    ferry_status (*truncate_prefix)(ferry_storage *storage, uint64_t queue_id, uint64_t new_low, char *err,
                                    size_t err_cap);
    /* First readable offset whose store time is >= time_ms (next when none). FERRY_E_UNSUPPORTED without the cap. */
    ferry_status (*seek_time)(ferry_storage *storage, uint64_t queue_id, uint64_t time_ms, uint64_t *offset_out,
                              char *err, size_t err_cap);

    /* ---- consumer offsets ---- */
    ferry_status (*offset_set)(ferry_storage *storage, const char *group, size_t group_len, uint64_t queue_id,
                               uint64_t offset, char *err, size_t err_cap);
    /* FERRY_E_NOT_FOUND when never set. */
    ferry_status (*offset_get)(ferry_storage *storage, const char *group, size_t group_len, uint64_t queue_id,
                               uint64_t *offset_out, char *err, size_t err_cap);
    ferry_status (*offset_list)(ferry_storage *storage, ferry_storage_offset_sink sink, void *sink_ctx, char *err,
                                size_t err_cap);

    /* ---- metadata key/value space ---- */
    ferry_status (*meta_put)(ferry_storage *storage, const uint8_t *key, size_t key_len, const uint8_t *value,
                             size_t value_len, char *err, size_t err_cap);
    /* Calls sink once with the value; FERRY_E_NOT_FOUND when absent. */
    ferry_status (*meta_get)(ferry_storage *storage, const uint8_t *key, size_t key_len, ferry_storage_kv_sink sink,
                             void *sink_ctx, char *err, size_t err_cap);
    /* FERRY_E_NOT_FOUND when absent. */
    ferry_status (*meta_delete)(ferry_storage *storage, const uint8_t *key, size_t key_len, char *err, size_t err_cap);
    /* Every key starting with prefix (prefix_len 0: all), in ascending bytewise key order. */
    ferry_status (*meta_scan)(ferry_storage *storage, const uint8_t *prefix, size_t prefix_len,
                              ferry_storage_kv_sink sink, void *sink_ctx, char *err, size_t err_cap);

    /* ---- durability and housekeeping ---- */
    /* Makes everything done before this call durable (see the top of this file). */
    ferry_status (*sync)(ferry_storage *storage, char *err, size_t err_cap);
    /* Periodic housekeeping on the storage thread: retention, compaction. May be NULL. */
    ferry_status (*maintain)(ferry_storage *storage, uint64_t now_ms, char *err, size_t err_cap);
    /* Escape hatch: FERRY_STORAGE_CONTROL_* opcodes; unknown ones return FERRY_E_UNSUPPORTED. arg per opcode. */
    ferry_status (*control)(ferry_storage *storage, int32_t op, void *arg, char *err, size_t err_cap);
} ferry_storage_vtable;

#endif /* FERRY_STORAGE_H */
