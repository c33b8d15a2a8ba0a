/*
 * ferry_plugin.h -- the envelope of Ferry's stable plugin ABI.
 *
 * Pure C99. A plugin is a shared library that exports exactly one symbol, ferry_plugin_query, with C linkage.
 * The kernel resolves it, passes its ABI version and a host-services table, and receives a static descriptor.
 *
 * Rules that hold for every header in broker/include/ferry/ (docs/plugin-author-guide.md explains them):
 *  - Every struct starts with `uint32_t struct_size` and only ever grows at its end. A reader copies
 *    min(struct_size, sizeof) into a zeroed struct of its own, so old and new sides interoperate.
 *  - Any change to a public header bumps FERRY_ABI_MINOR (additions at the end) or FERRY_ABI_MAJOR (anything
 *    else); tests/abi/ fails the build when a header changes without a bump.
 *  - Result codes are int32_t values from the FERRY_E_* list; a value is never reused for another meaning.
 *  - Error text goes into a caller-supplied buffer (char *err, size_t err_cap); it is always NUL-terminated when
 *    err_cap > 0, truncated if needed. Passing err = NULL, err_cap = 0 is allowed.
 *  - Bytes cross as pointer + length and are borrowed for the duration of the call unless a comment says
 *    otherwise. Whoever allocates frees. Strings are UTF-8; a `const char *` with a length need not be NUL-terminated.
 *  - No C++ exception and no longjmp may cross the boundary in either direction.
 *  - Plugins are never unloaded: static data a plugin hands out stays valid for the life of the process.
 */
#ifndef FERRY_PLUGIN_H
#define FERRY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_ABI_MAJOR 1
#define FERRY_ABI_MINOR 8

#if defined(_WIN32) || defined(__CYGWIN__)
#define FERRY_PLUGIN_EXPORT __declspec(dllexport)
#else
#define FERRY_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define FERRY_EXTERN_C extern "C"
#else
#define FERRY_EXTERN_C
#endif

/* ---- Result codes. 0 is success; failures are negative and never reused. ---------------------------------- */
typedef int32_t ferry_status;
#define FERRY_OK 0
#define FERRY_E_INVALID_ARGUMENT (-1) /* the caller passed something the callee cannot accept */
#define FERRY_E_NOT_FOUND (-2)        /* the named object does not exist */
#define FERRY_E_ALREADY_EXISTS (-3)   /* the object exists and the call asked to create it */
#define FERRY_E_IO (-4)               /* an operating-system I/O call failed */
#define FERRY_E_CORRUPT (-5)          /* stored data failed its checksum or is structurally broken */
#define FERRY_E_UNSUPPORTED (-6)      /* the callee does not implement this operation or option */
#define FERRY_E_NO_SPACE (-7)         /* the disk or a configured limit is full */
#define FERRY_E_TOO_LARGE (-8)        /* a value exceeds a size limit (also: an output buffer was too small) */
#define FERRY_E_CLOSED (-9)           /* the connection, instance or queue is closed or being deleted */
#define FERRY_E_ABI_MISMATCH (-10)    /* the two sides were built against incompatible ABI versions */
#define FERRY_E_INTERNAL (-11)        /* a bug or an unexpected exception inside the callee */
#define FERRY_E_PROTOCOL (-12)        /* the peer sent bytes that violate the protocol */
#define FERRY_E_ACCESS_DENIED (-13)   /* authentication or permission failure */
#define FERRY_E_BUSY (-14)            /* temporarily unable; retrying later may succeed */
#define FERRY_E_NO_MEMORY (-15)       /* an allocation failed */
#define FERRY_E_TIMEOUT (-16)         /* a deadline passed before the operation completed */
#define FERRY_E_CONFIG (-17)          /* a configuration key has a value the plugin cannot use */
#define FERRY_E_LOCKED (-18)          /* ABI 1.5: the object is held exclusively by another connection */
#define FERRY_E_MISMATCH (-19)        /* ABI 1.5: the object exists with other properties than the ones asked for */
#define FERRY_E_REPLICA_TIMEOUT (-20) /* ABI 1.7: stored here, but no slave acknowledged it within the sync timeout */
#define FERRY_E_NO_REPLICA (-21)      /* ABI 1.7: stored here, but no in-sync slave is connected (SYNC_MASTER) */
#define FERRY_E_READ_ONLY (-22)       /* ABI 1.7: this broker is a slave (read-only): writes go to its master */

/* ---- Log levels for ferry_host.log. ------------------------------------------------------------------------ */
#define FERRY_LOG_TRACE 0
#define FERRY_LOG_DEBUG 1
#define FERRY_LOG_INFO 2
#define FERRY_LOG_WARN 3
#define FERRY_LOG_ERROR 4
#define FERRY_LOG_CRITICAL 5

/* ---- Plugin kinds (ferry_plugin_descriptor.kind). ---------------------------------------------------------- */
#define FERRY_PLUGIN_KIND_PROTOCOL 1 /* vtable is a ferry_protocol_vtable (ferry_protocol.h) */
#define FERRY_PLUGIN_KIND_STORAGE 2  /* vtable is a ferry_storage_vtable (ferry_storage.h) */

/*
 * Services every plugin gets from the kernel. One table per plugin: `ctx` identifies the plugin, so log lines
 * carry its name. The table and everything it points to are kernel-owned and valid for the life of the process.
 * Every function here may be called from any thread.
 */
/* ABI 1.8: an event counter (ferry_host.counter); opaque, kernel-owned. */
typedef struct ferry_counter ferry_counter;

typedef struct ferry_host {
    uint32_t struct_size;
    uint16_t abi_major; /* the kernel's FERRY_ABI_MAJOR */
    uint16_t abi_minor; /* the kernel's FERRY_ABI_MINOR */
    void *ctx;          /* kernel-owned; pass it back as the first argument of every function below */

    /* Writes one log line, prefixed by the kernel with the plugin's name. text: borrowed, text_len bytes. */
    void (*log)(void *ctx, int32_t level, const char *text, size_t text_len);

    /*
     * Reads `key` from the plugin's own config section (named after the plugin). Returns the configured value or
     * the default declared in the descriptor's config_keys; FERRY_E_NOT_FOUND for an undeclared key.
     * value_buf: caller-owned, receives a NUL-terminated value. *value_len (optional) receives the full length;
     * when it does not fit, the value is truncated and FERRY_E_TOO_LARGE is returned.
     */
    ferry_status (*config_get)(void *ctx, const char *key, char *value_buf, size_t value_cap, size_t *value_len);

    /* Milliseconds since the Unix epoch (wall clock). */
    uint64_t (*now_ms)(void *ctx);

    /* Milliseconds from an arbitrary start; never goes backwards. */
    uint64_t (*monotonic_ms)(void *ctx);

    /* ==== ABI 1.8 ==== */
    /* A counter of events the plugin counts; /metrics exports it as ferry_plugin_events_total{plugin, event}. The
       handle is kernel-owned and valid for the life of the process; the same name gives the same handle. NULL when
       name is not 1 to 64 characters of [a-z0-9_]. */
    ferry_counter *(*counter)(void *ctx, const char *name, size_t name_len);
    /* Adds delta to counter (a relaxed atomic add: cheap enough for the hot path). A NULL counter is ignored. */
    void (*counter_add)(ferry_counter *counter, uint64_t delta);
} ferry_host;

/* One configuration key a plugin accepts. Static, plugin-owned. */
typedef struct ferry_config_key {
    uint32_t struct_size;
    const char *name;          /* key inside the plugin's section, e.g. "segment_bytes" */
    const char *default_value; /* text form of the default; "" for an empty default */
    const char *description;   /* one line, shown in docs and by `ferry-broker --list-plugins` */
} ferry_config_key;

/*
 * What a plugin says about itself. Returned by ferry_plugin_query; static, plugin-owned, never freed.
 * Arrays of structs in descriptors (config_keys) are read with the first element's struct_size as the stride.
 */
typedef struct ferry_plugin_descriptor {
    uint32_t struct_size;
    uint16_t abi_major; /* FERRY_ABI_MAJOR the plugin was compiled against */
    uint16_t abi_minor; /* FERRY_ABI_MINOR the plugin was compiled against */
    int32_t kind;       /* FERRY_PLUGIN_KIND_* */
    const char *name;   /* unique among loaded plugins; also the plugin's config section. [a-z0-9_-]+ */
    const char *version;
    const char *license;
    const char *description;
    const ferry_config_key *config_keys; /* may be NULL when config_key_count is 0 */
    uint32_t config_key_count;
    const void *vtable; /* static; a ferry_protocol_vtable or ferry_storage_vtable, starting with struct_size */
} ferry_plugin_descriptor;

/*
 * The one entry point. Called once, on the kernel's main thread, before anything else in the plugin.
 * host: kernel-owned, valid for the life of the process (a plugin may keep the pointer).
 * descriptor_out: receives a pointer to the plugin's static descriptor.
 * A plugin that cannot work with host->abi_major/minor returns FERRY_E_ABI_MISMATCH with a message in err.
 */
typedef ferry_status (*ferry_plugin_query_fn)(const ferry_host *host, const ferry_plugin_descriptor **descriptor_out,
                                              char *err, size_t err_cap);

#define FERRY_PLUGIN_ENTRY_SYMBOL "ferry_plugin_query"

/* Declares the entry point in a plugin's source: FERRY_PLUGIN_ENTRY { ... } */
#define FERRY_PLUGIN_ENTRY                                                                                     \
    FERRY_EXTERN_C FERRY_PLUGIN_EXPORT ferry_status ferry_plugin_query(                                        \
        const ferry_host *host, const ferry_plugin_descriptor **descriptor_out, char *err, size_t err_cap)

#endif /* FERRY_PLUGIN_H */
