#include "io/steering.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "voxa/assert.h"

namespace voxa::io {

uint32_t steer_worker(const uint8_t* d, std::size_t len, uint32_t workers) noexcept {
    VOXA_ASSERT(workers >= 1);
    if (workers == 1) return 0;
    // Every rule needs at least 32 bytes; the cBPF program checks this first too, so none of its loads can
    // fall outside the datagram (an out-of-bounds load would end the program with 0, i.e. worker 0).
    if (len < 32) return kAnyWorker;
    switch (d[0]) {
        case 1: return len == 152 ? d[8] % workers : kAnyWorker;
        case 2: return len == 96 ? d[11] % workers : kAnyWorker;
        case 3: return len == 64 ? d[7] % workers : kAnyWorker;
        case 4: return d[7] % workers;
        default: return kAnyWorker;
    }
}

std::vector<sock_filter> steering_program(uint32_t workers) {
    VOXA_CHECK(workers >= 1);
    // Labels are instruction indices; the kernel's jumps are relative to the next instruction.
    enum : uint8_t { kInit = 8, kResp = 12, kCookie = 16, kTransport = 18, kMod = 19, kAny = 21 };
    auto jump = [](uint16_t code, uint32_t k, uint8_t at, uint8_t jt, uint8_t jf) {
        return sock_filter{code, uint8_t(jt - at - 1), uint8_t(jf - at - 1), k};
    };
    auto go = [](uint8_t at, uint8_t to) { return sock_filter{BPF_JMP | BPF_JA, 0, 0, uint32_t(to - at - 1)}; };
    std::vector<sock_filter> p = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),               // A = UDP payload length
        /* 1 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),                     // X = length
        /* 2 */ jump(BPF_JMP | BPF_JGE | BPF_K, 32, 2, 3, kAny),     // every rule needs >= 32 bytes
        /* 3 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),               // A = type
        /* 4 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 4, 4, kTransport, 5),   // the common case first
        /* 5 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, kInit, 6),
        /* 6 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 2, 6, kResp, 7),
        /* 7 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 3, 7, kCookie, kAny),
        /* 8 kInit */ BPF_STMT(BPF_MISC | BPF_TXA, 0),
        /* 9 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 152, 9, 10, kAny),
        /* 10 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8),             // first byte of the ephemeral key
        /* 11 */ go(11, kMod),
        /* 12 kResp */ BPF_STMT(BPF_MISC | BPF_TXA, 0),
        /* 13 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 96, 13, 14, kAny),
        /* 14 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 11),            // top byte of receiver u32 at 8
        /* 15 */ go(15, kMod),
        /* 16 kCookie */ BPF_STMT(BPF_MISC | BPF_TXA, 0),
        /* 17 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 64, 17, kTransport, kAny),
        /* 18 kTransport */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 7),   // top byte of receiver u32 at 4
        /* 19 kMod */ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, workers),
        /* 20 */ BPF_STMT(BPF_RET | BPF_A, 0),
        /* 21 kAny */ BPF_STMT(BPF_RET | BPF_K, kAnyWorker),       // outside the group: the kernel hashes
    };
    VOXA_CHECK(p.size() == kAny + 1u);
    return p;
}

bool attach_steering(int fd, uint32_t workers, std::string* error) {
    std::vector<sock_filter> code = steering_program(workers);
    sock_fprog prog{uint16_t(code.size()), code.data()};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
        if (error) *error = std::string("setsockopt(SO_ATTACH_REUSEPORT_CBPF): ") + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace voxa::io
