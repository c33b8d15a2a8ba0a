/* Claims to be built for a newer minor of this ABI major: must be refused as a newer minor. */
#include "test_plugin_support.h"

static ferry_storage_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_storage_vtable(&vtable);
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_STORAGE, "abi-minor", &vtable);
    descriptor.abi_minor = FERRY_ABI_MINOR + 1;
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
