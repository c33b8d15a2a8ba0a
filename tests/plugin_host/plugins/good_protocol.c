/* A valid protocol plugin with two listeners and one config key. init() logs the configured greeting through the
 * base host table, so the test can see log() and config_get() of the per-plugin table. */
#include "test_plugin_support.h"

#include <stdio.h>
#include <string.h>

static ferry_protocol_vtable vtable;
static ferry_plugin_descriptor descriptor;

static ferry_status good_init(const ferry_protocol_host *host, ferry_protocol **instance_out, char *err,
                              size_t err_cap)
{
    char greeting[64];
    char line[96];
    int n;
    if (host->base->config_get(host->base->ctx, "greeting", greeting, sizeof greeting, NULL) != FERRY_OK) {
        test_write_error(err, err_cap, "greeting is not declared");
        return FERRY_E_CONFIG;
    }
    n = snprintf(line, sizeof line, "greeting=%s", greeting);
    host->base->log(host->base->ctx, FERRY_LOG_INFO, line, (size_t)n);
    *instance_out = NULL;
    return FERRY_OK;
}

static const ferry_listener_spec listeners[] = {
    {sizeof(ferry_listener_spec), "listen", "127.0.0.1:5999", "the main listener"},
    {sizeof(ferry_listener_spec), "admin_listen", "", "an optional second listener (off by default)"},
};

static const ferry_config_key config_keys[] = {
    {sizeof(ferry_config_key), "greeting", "hello", "what init() logs"},
};

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_protocol_vtable(&vtable);
    vtable.listeners = listeners;
    vtable.listener_count = sizeof listeners / sizeof listeners[0];
    vtable.init = good_init;
    vtable.shutdown = NULL; /* optional */

    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_PROTOCOL, "test-protocol", &vtable);
    descriptor.version = "4.5.6";
    descriptor.license = "BSD-3-Clause";
    descriptor.description = "good protocol test plugin";
    descriptor.config_keys = config_keys;
    descriptor.config_key_count = 1;
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
