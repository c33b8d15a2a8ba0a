/* A real ELF shared library that cannot be bound: it calls a function no library defines. Built on Linux only (the
 * linker allows undefined symbols in shared objects there). The kernel loads plugins with immediate binding, so
 * this is refused at load time instead of aborting the process at the first call. */
#include "test_plugin_support.h"

void ferry_test_function_that_no_library_defines(void);

FERRY_PLUGIN_ENTRY
{
    (void)host;
    (void)descriptor_out;
    (void)err;
    (void)err_cap;
    ferry_test_function_that_no_library_defines();
    return FERRY_E_INTERNAL;
}
