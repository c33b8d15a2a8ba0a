/* A shared library that exports a function, but not ferry_plugin_query. */
#include <ferry/ferry_plugin.h>

FERRY_EXTERN_C FERRY_PLUGIN_EXPORT int not_the_ferry_entry(void);

int not_the_ferry_entry(void)
{
    return 42;
}
