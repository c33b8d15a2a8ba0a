#include "platform/FreeMemory.h"

#include <cstdlib> // defines __GLIBC__ on glibc, which the test below needs

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ferry::platform {

bool returnFreeMemoryToOs()
{
#if defined(__GLIBC__)
    malloc_trim(0);
    return true;
#else
    // The Windows heap and other allocators decommit free memory themselves.
    return false;
#endif
}

} // namespace ferry::platform
