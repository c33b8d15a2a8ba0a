// FreeMemory: hands memory the allocator holds free back to the operating system. After a large queue is deleted,
// purged or drained, glibc keeps the freed heap (hundreds of MB) in its bins, and every later malloc/free walks
// them: end-to-end latency p99 went from 0.3 ms to 20-30 ms on the bench machine until the heap was trimmed.
// Any thread; it takes the allocator's arena locks while it runs (milliseconds for a large heap).
#pragma once

namespace ferry::platform {

// true when the allocator supports it (glibc's malloc_trim); false elsewhere, where it does nothing.
bool returnFreeMemoryToOs();

} // namespace ferry::platform
