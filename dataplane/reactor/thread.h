// Worker thread placement: each worker of voxa-dataplane pins itself to its configured core and names itself
// (visible in top -H, perf, gdb) before entering its reactor. Both act on the calling thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace voxa::reactor {

// Pins the calling thread to cpu (sched_setaffinity). Returns true on success; on failure returns false and, if
// error is not null, sets it to a message naming the cpu, the errno text and the cpus this thread may use.
bool pin_current_thread(int cpu, std::string* error);

// Names the calling thread (pthread_setname_np), truncated to the 15 bytes the kernel keeps. Best effort.
void set_current_thread_name(std::string_view name);

// The cpus the calling thread may run on (its affinity mask), ascending; empty if it cannot be read.
std::vector<int> allowed_cpus();

// The cpu the calling thread is running on now (sched_getcpu), or -1.
int current_cpu() noexcept;

}  // namespace voxa::reactor
