/* A kind the kernel does not know. */
#include "test_plugin_support.h"

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    test_fill_descriptor(&descriptor, 7, "unknown-kind", &vtable);
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
