/* Claims to be built for the next ABI major: must be refused as a different major. */
#include "test_plugin_support.h"

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "abi-major", &vtable);
    descriptor.abi_major = FERRY_ABI_MAJOR + 1;
    descriptor.abi_minor = 0;
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
