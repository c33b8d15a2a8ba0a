/* The plugin itself refuses the kernel: it says it needs a minor newer than any kernel has. */
#include "test_plugin_support.h"

FERRY_PLUGIN_ENTRY
{
    (void)descriptor_out;
    if (host->abi_minor < FERRY_ABI_MINOR + 1) {
        test_write_error(err, err_cap, "needs host services of a newer kernel");
        return FERRY_E_ABI_MISMATCH;
    }
    return FERRY_E_INTERNAL;
}
