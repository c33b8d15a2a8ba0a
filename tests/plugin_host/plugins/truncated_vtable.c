/* A storage vtable whose struct_size stops before `sync`: the member is set in memory, but the kernel must copy
 * only struct_size bytes and therefore see it as missing. */
#include "test_plugin_support.h"

#include <stddef.h>

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    vtable.struct_size = (uint32_t)offsetof(ferry_storage_vtable, sync);
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "truncated-vtable", &vtable);
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
