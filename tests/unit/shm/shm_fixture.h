// Shared by the shm tests: a private temporary directory per test (the segment file lives there and is removed
// afterwards), a small default geometry, and helpers for forked children, which report through their exit code
// because GoogleTest assertions do not cross a fork.
#pragma once

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>

#include <gtest/gtest.h>

#include "shm/segment.h"

#ifndef VOXA_TEST_SANITIZED
#define VOXA_TEST_SANITIZED 0
#endif

namespace voxa::shm::test {

class ShmTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "voxa-shm-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/voxa.shm";
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    std::unique_ptr<Segment> open_ok(Side side, const SegmentConfig& config) {
        std::string error;
        auto s = Segment::open(path_, config, side, &error);
        EXPECT_NE(s, nullptr) << error;
        return s;
    }

    static SegmentConfig small_config() {
        SegmentConfig c;
        c.workers = 2;
        c.ring_slots = 64;
        c.slot_bytes = 256;
        return c;
    }

    std::string dir_;
    std::string path_;
};

// A flag both sides of a fork see (an anonymous shared page), for "done" signals outside the segment.
class SharedFlag {
public:
    SharedFlag()
        : page_(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) {
        if (page_ == MAP_FAILED) std::abort();
        flag_ = new (page_) std::atomic<uint64_t>(0);
    }
    ~SharedFlag() { ::munmap(page_, 4096); }
    SharedFlag(const SharedFlag&) = delete;
    SharedFlag& operator=(const SharedFlag&) = delete;
    std::atomic<uint64_t>& operator*() { return *flag_; }
    std::atomic<uint64_t>* operator->() { return flag_; }

private:
    void* page_;
    std::atomic<uint64_t>* flag_;
};

// Waits for a forked child; returns its exit code, or 128 + signal when it was killed.
inline int wait_child(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -2;
}

}  // namespace voxa::shm::test
