/* The second declared config key has no name. */
#include "test_plugin_support.h"

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

static const ferry_config_key config_keys[] = {
    {sizeof(ferry_config_key), "fine", "1", "a good key"},
    {sizeof(ferry_config_key), NULL, "2", "a key without a name"},
};

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "bad-config-key", &vtable);
    descriptor.config_keys = config_keys;
    descriptor.config_key_count = 2;
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
