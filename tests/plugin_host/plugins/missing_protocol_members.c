/* A protocol plugin whose vtable lacks two required members: both must be named. */
#include "test_plugin_support.h"

static ferry_protocol_vtable vtable;
static ferry_plugin_descriptor descriptor;

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    test_fill_protocol_vtable(&vtable);
    vtable.on_timer = NULL;
    vtable.on_close = NULL;
    test_fill_descriptor(&descriptor, FERRY_PLUGIN_KIND_PROTOCOL, "missing-protocol-members", &vtable);
    *descriptor_out = &descriptor;
    return FERRY_OK;
}
