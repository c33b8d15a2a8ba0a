/* ferry_plugin_query says FERRY_OK but hands out no descriptor. */
#include "test_plugin_support.h"

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)err;
    (void)err_cap;
    *descriptor_out = NULL;
    return FERRY_OK;
}
