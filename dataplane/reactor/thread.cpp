#include "reactor/thread.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <cstring>

namespace voxa::reactor {

namespace {
// Large enough for any machine Linux supports today (CONFIG_NR_CPUS tops out at 8192).
constexpr int kCpusMax = 1 << 16;

// "0-3,6,8-9": the cpus as ranges.
std::string cpu_list_text(const std::vector<int>& cpus) {
    std::string text;
    for (std::size_t i = 0; i < cpus.size();) {
        std::size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!text.empty()) text += ',';
        text += std::to_string(cpus[i]);
        if (j > i) text += '-' + std::to_string(cpus[j]);
        i = j + 1;
    }
    return text.empty() ? "unknown" : text;
}
}  // namespace

std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    for (int n = 1024; n <= kCpusMax; n *= 4) {
        cpu_set_t* set = CPU_ALLOC(n);
        if (set == nullptr) return cpus;
        std::size_t const size = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(size, set);
        if (::sched_getaffinity(0, size, set) == 0) {
            for (int cpu = 0; cpu < n; ++cpu) {
                if (CPU_ISSET_S(cpu, size, set)) cpus.push_back(cpu);
            }
            CPU_FREE(set);
            return cpus;
        }
        int const err = errno;
        CPU_FREE(set);
        if (err != EINVAL) return cpus;  // EINVAL: the kernel's mask is larger than ours; try a larger one
    }
    return cpus;
}

bool pin_current_thread(int cpu, std::string* error) {
    std::string const what = "cannot pin thread to cpu " + std::to_string(cpu) + ": ";
    if (cpu < 0 || cpu >= kCpusMax) {
        if (error != nullptr) {
            *error = what + "not a cpu number (0.." + std::to_string(kCpusMax - 1) + "); this thread may use cpus " +
                     cpu_list_text(allowed_cpus());
        }
        return false;
    }
    cpu_set_t* set = CPU_ALLOC(cpu + 1);
    if (set == nullptr) {
        if (error != nullptr) *error = what + "out of memory";
        return false;
    }
    std::size_t const size = CPU_ALLOC_SIZE(cpu + 1);
    CPU_ZERO_S(size, set);
    CPU_SET_S(static_cast<std::size_t>(cpu), size, set);
    int const rc = ::sched_setaffinity(0, size, set);  // 0: the calling thread
    int const err = errno;
    CPU_FREE(set);
    if (rc == 0) return true;
    if (error != nullptr) {
        *error = what + std::strerror(err) + " (this thread may use cpus " + cpu_list_text(allowed_cpus()) +
                 "; check the `cores` setting)";
    }
    return false;
}

void set_current_thread_name(std::string_view name) {
    std::string const truncated(name.substr(0, 15));
    (void)::pthread_setname_np(::pthread_self(), truncated.c_str());
}

int current_cpu() noexcept { return ::sched_getcpu(); }

}  // namespace voxa::reactor
