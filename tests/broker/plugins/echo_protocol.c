/*
 * echo_protocol.c -- a minimal protocol plugin for tests/broker (not installed, never in the real plugin directory).
 *
 * Plugin "echo": on connect it writes the configured greeting and a newline; afterwards it writes back every byte
 * it receives. Listeners: echo.listen (default 127.0.0.1:0) and echo.admin_listen (default empty: off).
 * Config: echo.greeting (default "hello"). init() logs one info line, so the broker's log has an "[echo]" line.
 */
#include <ferry/ferry_protocol.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ferry_protocol {
    const ferry_protocol_host *host;
    char greeting[128];
};

struct ferry_session {
    ferry_protocol *instance;
    ferry_conn *conn;
};

static const ferry_listener_spec echo_listeners[] = {
    {sizeof(ferry_listener_spec), "listen", "127.0.0.1:0", "echo listener"},
    {sizeof(ferry_listener_spec), "admin_listen", "", "second listener, off unless configured"},
};

static const ferry_config_key echo_config_keys[] = {
    {sizeof(ferry_config_key), "greeting", "hello", "line written to every new connection"},
};

static void echo_log(const ferry_host *host, int32_t level, const char *text)
{
    host->log(host->ctx, level, text, strlen(text));
}

static ferry_status echo_init(const ferry_protocol_host *host, ferry_protocol **instance_out, char *err,
                              size_t err_cap)
{
    ferry_protocol *instance = (ferry_protocol *)calloc(1, sizeof *instance);
    char line[200];
    size_t length = 0;
    if (instance == NULL) {
        if (err != NULL && err_cap > 0)
            snprintf(err, err_cap, "out of memory");
        return FERRY_E_NO_MEMORY;
    }
    instance->host = host;
    if (host->base->config_get(host->base->ctx, "greeting", instance->greeting, sizeof instance->greeting,
                               &length) != FERRY_OK) {
        if (err != NULL && err_cap > 0)
            snprintf(err, err_cap, "echo.greeting could not be read");
        free(instance);
        return FERRY_E_CONFIG;
    }
    snprintf(line, sizeof line, "echo protocol initialised, greeting '%s'", instance->greeting);
    echo_log(host->base, FERRY_LOG_INFO, line);
    *instance_out = instance;
    return FERRY_OK;
}

static ferry_status echo_on_open(ferry_protocol *instance, ferry_conn *conn, uint32_t listener_index,
                                 ferry_session **session_out)
{
    ferry_session *session = (ferry_session *)calloc(1, sizeof *session);
    (void)listener_index;
    if (session == NULL)
        return FERRY_E_NO_MEMORY;
    session->instance = instance;
    session->conn = conn;
    *session_out = session;
    instance->host->write(conn, (const uint8_t *)instance->greeting, strlen(instance->greeting));
    return instance->host->write(conn, (const uint8_t *)"\n", 1);
}

static ferry_status echo_on_read(ferry_session *session, const uint8_t *data, size_t len, size_t *consumed)
{
    *consumed = len;
    return session->instance->host->write(session->conn, data, len);
}

static void echo_on_delivery(ferry_session *session, const ferry_delivery *delivery)
{
    (void)session;
    (void)delivery;
}

static void echo_on_result(ferry_session *session, const ferry_result *result)
{
    (void)session;
    (void)result;
}

static void echo_on_timer(ferry_session *session, uint64_t timer_id)
{
    (void)session;
    (void)timer_id;
}

static void echo_on_close(ferry_session *session, int32_t reason)
{
    (void)reason;
    free(session);
}

static void echo_shutdown(ferry_protocol *instance)
{
    echo_log(instance->host->base, FERRY_LOG_INFO, "echo protocol shut down");
    free(instance);
}

static const ferry_protocol_vtable echo_vtable = {
    sizeof(ferry_protocol_vtable),
    echo_listeners,
    2,
    echo_init,
    echo_on_open,
    echo_on_read,
    echo_on_delivery,
    echo_on_result,
    echo_on_timer,
    echo_on_close,
    echo_shutdown,
    NULL, /* on_wake */
    NULL, /* on_connect */
    NULL, /* on_instance_timer */
};

static const ferry_plugin_descriptor echo_descriptor = {
    sizeof(ferry_plugin_descriptor),
    FERRY_ABI_MAJOR,
    FERRY_ABI_MINOR,
    FERRY_PLUGIN_KIND_PROTOCOL,
    "echo",
    "1.0.0",
    "MIT",
    "test protocol: greets, then echoes",
    echo_config_keys,
    1,
    &echo_vtable,
};

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    *descriptor_out = &echo_descriptor;
    return FERRY_OK;
}
