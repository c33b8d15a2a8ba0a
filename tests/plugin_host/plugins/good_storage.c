/* A valid storage plugin. open() keeps the host it is given; capabilities() answers the configured "caps" value,
 * read through that host, so the test can see config_get work end to end. Everything else is a stub. */
#include "test_plugin_support.h"

#include <stdlib.h>
#include <string.h>

struct ferry_storage {
    const ferry_host *host;
};

static ferry_status good_open(const ferry_host *host, const ferry_storage_options *options, ferry_storage **out,
                              char *err, size_t err_cap)
{
    ferry_storage *storage;
    (void)options;
    storage = (ferry_storage *)calloc(1, sizeof *storage);
    if (storage == NULL) {
        test_write_error(err, err_cap, "out of memory");
        return FERRY_E_NO_MEMORY;
    }
    storage->host = host;
    *out = storage;
    return FERRY_OK;
}

static void good_close(ferry_storage *storage)
{
    free(storage);
}

static uint64_t good_capabilities(ferry_storage *storage)
{
    char value[32];
    if (storage->host->config_get(storage->host->ctx, "caps", value, sizeof value, NULL) != FERRY_OK)
        return UINT64_MAX;
    return (uint64_t)strtoull(value, NULL, 10);
}

static const ferry_config_key config_keys[] = {
    {sizeof(ferry_config_key), "caps", "3", "capability bits capabilities() reports"},
    {sizeof(ferry_config_key), "data_name", "", "a key with an empty default"},
};

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    static const char message[] = "good_storage query called";
    (void)err;
    (void)err_cap;
    host->log(host->ctx, FERRY_LOG_INFO, message, sizeof message - 1);

    test_fill_storage_vtable(&vtable);
    vtable.open = good_open;
    vtable.close = good_close;
    vtable.capabilities = good_capabilities;
    vtable.seek_time = NULL; /* optional members may be missing */
    vtable.maintain = NULL;

    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "test_storage", &vtable);
    descriptor.version = "1.2.3";
    descriptor.license = "MIT";
    descriptor.description = "good storage test plugin";
    descriptor.config_keys = config_keys;
    descriptor.config_key_count = sizeof config_keys / sizeof config_keys[0];
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
