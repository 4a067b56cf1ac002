// Shared bits of the test plugins: a descriptor filler and a C-ABI guard. Test code only.
#pragma once

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include "voxa/plugin_abi.h"

#define VOXA_TEST_EXPORT extern "C" __attribute__((visibility("default")))

namespace voxa_test {

// Runs fn; any exception becomes -EIO (nothing unwinds across the C ABI).
template <class Fn>
int guarded(Fn&& fn) noexcept {
    try {
        return fn();
    } catch (...) {
        return -EIO;
    }
}

// Copies text into a host buffer for a service's *json_out.
inline char* host_string(const voxa_host* host, const std::string& text) {
    char* out = host->alloc_buffer(host->ctx, text.size() + 1);
    if (out != nullptr) std::memcpy(out, text.c_str(), text.size() + 1);
    return out;
}

inline int noop_create(const voxa_host*, const char*, void** instance) {
    *instance = nullptr;
    return 0;
}
inline int noop_start(void*) { return 0; }
inline void noop_stop(void*) {}
inline void noop_destroy(void*) {}

}  // namespace voxa_test
