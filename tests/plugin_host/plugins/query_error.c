/* ferry_plugin_query fails with a status and a message. */
#include "test_plugin_support.h"

FERRY_PLUGIN_ENTRY
{
    (void)host;
    *descriptor_out = NULL;
    test_write_error(err, err_cap, "license file not found");
    return FERRY_E_CONFIG;
}
