// ThreadCpuTime: CPU time the calling thread has used so far (user + system). The event-loop threads sample it to
// know how busy they are (net/IoWorker); a clock read, no lock, any thread (it measures the caller).
#pragma once

#include <chrono>

namespace ferry::platform {

// Nanoseconds of CPU the calling thread has consumed since it started; 0 when the OS cannot tell.
std::chrono::nanoseconds currentThreadCpuTime();

} // namespace ferry::platform
