/* A storage plugin whose vtable lacks the required `read` member. */
#include "test_plugin_support.h"

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    vtable.read = NULL;
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "missing-read", &vtable);
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
