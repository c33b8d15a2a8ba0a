/* Built twice (duplicate_a, duplicate_b) with the same descriptor name and DUPLICATE_VERSION telling them apart. */
#include "test_plugin_support.h"

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "duplicate", &vtable);
    descriptor.version = DUPLICATE_VERSION;
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
