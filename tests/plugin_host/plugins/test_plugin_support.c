/* Stub vtable members for the test plugins: see test_plugin_support.h. Parameters are unused on purpose. */
#include "test_plugin_support.h"

#include <string.h>

static ferry_status stub_open(const ferry_host *host, const ferry_storage_options *options, ferry_storage **out,
                              char *err, size_t err_cap)
{
    test_write_error(err, err_cap, "stub storage cannot open");
    return FERRY_E_UNSUPPORTED;
}
static void stub_close(ferry_storage *storage) {}
static uint64_t stub_capabilities(ferry_storage *storage) { return 0; }
static ferry_status stub_queue_create(ferry_storage *s, uint64_t q, uint32_t flags, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_queue_delete(ferry_storage *s, uint64_t q, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_queue_list(ferry_storage *s, ferry_storage_queue_sink sink, void *ctx, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_queue_bounds(ferry_storage *s, uint64_t q, uint64_t *low, uint64_t *next, char *err,
                                      size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_append(ferry_storage *s, uint64_t q, uint64_t t, const uint8_t *head, size_t head_len,
                                const uint8_t *body, size_t body_len, uint64_t *offset, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_read(ferry_storage *s, uint64_t q, uint64_t from, uint32_t max_records, uint64_t max_bytes,
                              ferry_storage_record_sink sink, void *ctx, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_ack(ferry_storage *s, uint64_t q, uint64_t offset, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_truncate_prefix(ferry_storage *s, uint64_t q, uint64_t low, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_seek_time(ferry_storage *s, uint64_t q, uint64_t t, uint64_t *offset, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_offset_set(ferry_storage *s, const char *g, size_t g_len, uint64_t q, uint64_t offset,
                                    char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_offset_get(ferry_storage *s, const char *g, size_t g_len, uint64_t q, uint64_t *offset,
                                    char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_offset_list(ferry_storage *s, ferry_storage_offset_sink sink, void *ctx, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_meta_put(ferry_storage *s, const uint8_t *k, size_t k_len, const uint8_t *v, size_t v_len,
                                  char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_meta_get(ferry_storage *s, const uint8_t *k, size_t k_len, ferry_storage_kv_sink sink,
                                  void *ctx, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_meta_delete(ferry_storage *s, const uint8_t *k, size_t k_len, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_meta_scan(ferry_storage *s, const uint8_t *p, size_t p_len, ferry_storage_kv_sink sink,
                                   void *ctx, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_sync(ferry_storage *s, char *err, size_t cap) { return FERRY_E_UNSUPPORTED; }
static ferry_status stub_maintain(ferry_storage *s, uint64_t now, char *err, size_t cap) { return FERRY_E_UNSUPPORTED; }
static ferry_status stub_control(ferry_storage *s, int32_t op, void *arg, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}

void test_fill_storage_vtable(ferry_storage_vtable *v)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v;
    v->open = stub_open;
    v->close = stub_close;
    v->capabilities = stub_capabilities;
    v->queue_create = stub_queue_create;
    v->queue_delete = stub_queue_delete;
    v->queue_list = stub_queue_list;
    v->queue_bounds = stub_queue_bounds;
    v->append = stub_append;
    v->read = stub_read;
    v->ack = stub_ack;
    v->truncate_prefix = stub_truncate_prefix;
    v->seek_time = stub_seek_time;
    v->offset_set = stub_offset_set;
    v->offset_get = stub_offset_get;
    v->offset_list = stub_offset_list;
    v->meta_put = stub_meta_put;
    v->meta_get = stub_meta_get;
    v->meta_delete = stub_meta_delete;
    v->meta_scan = stub_meta_scan;
    v->sync = stub_sync;
    v->maintain = stub_maintain;
    v->control = stub_control;
}

static ferry_status stub_init(const ferry_protocol_host *host, ferry_protocol **out, char *err, size_t cap)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_on_open(ferry_protocol *p, ferry_conn *conn, uint32_t listener, ferry_session **out)
{
    return FERRY_E_UNSUPPORTED;
}
static ferry_status stub_on_read(ferry_session *s, const uint8_t *data, size_t len, size_t *consumed)
{
    return FERRY_E_UNSUPPORTED;
}
static void stub_on_delivery(ferry_session *s, const ferry_delivery *d) {}
static void stub_on_result(ferry_session *s, const ferry_result *r) {}
static void stub_on_timer(ferry_session *s, uint64_t timer_id) {}
static void stub_on_close(ferry_session *s, int32_t reason) {}
static void stub_shutdown(ferry_protocol *p) {}

void test_fill_protocol_vtable(ferry_protocol_vtable *v)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v;
    v->listeners = NULL;
    v->listener_count = 0;
    v->init = stub_init;
    v->on_open = stub_on_open;
    v->on_read = stub_on_read;
    v->on_delivery = stub_on_delivery;
    v->on_result = stub_on_result;
    v->on_timer = stub_on_timer;
    v->on_close = stub_on_close;
    v->shutdown = stub_shutdown;
}

void test_fill_descriptor(ferry_plugin_descriptor *d, int32_t kind, const char *name, const void *vtable)
{
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->abi_major = FERRY_ABI_MAJOR;
    d->abi_minor = FERRY_ABI_MINOR;
    d->kind = kind;
    d->name = name;
    d->version = "0.0.1";
    d->license = "Apache-2.0";
    d->description = "a plugin built by tests/plugin_host";
    d->config_keys = NULL;
    d->config_key_count = 0;
    d->vtable = vtable;
}

void test_write_error(char *err, size_t err_cap, const char *text)
{
    size_t n;
    if (err == NULL || err_cap == 0)
        return;
    n = strlen(text);
    if (n > err_cap - 1)
        n = err_cap - 1;
    memcpy(err, text, n);
    err[n] = '\0';
}
