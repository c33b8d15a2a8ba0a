/* A name outside [a-z0-9_-]+. */
#include "test_plugin_support.h"

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "Bad Name", &vtable);
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
