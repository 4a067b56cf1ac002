// Worker steering: which worker owns a received datagram, so that every link session (and so every circuit)
// is handled by one worker without locks. A link session's local receiver index carries its owning worker in
// the top byte (byte 3 of the little-endian u32); a handshake initiation is steered by the first byte of its
// random ephemeral key, so the responder creates the session on a worker chosen at random.
//
//   t = d[0]   t==1 && len==152: d[8]   t==2 && len==96: d[11]   t==3 && len==64: d[7]   t==4 && len>=32: d[7]
//   (each % workers); anything else: kAnyWorker (the kernel's 4-tuple hash picks).
//
// steer_worker() is the reference; the classic BPF program attached with SO_ATTACH_REUSEPORT_CBPF computes the
// same value in the kernel, which runs it with the UDP payload at offset 0 and treats a return value outside
// the reuseport group (our kAnyWorker) as "no choice" and falls back to its hash. The value returned is an
// index into the reuseport group, i.e. the order in which the sockets were bound: worker i must bind i-th.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace voxa::io {

inline constexpr uint32_t kAnyWorker = ~0u;

// Pure; `d` holds `len` bytes (may be null when len == 0). workers >= 1. Returns a worker < workers or kAnyWorker.
uint32_t steer_worker(const uint8_t* d, std::size_t len, uint32_t workers) noexcept;
// The cBPF program (exposed for tests and for documentation).
std::vector<sock_filter> steering_program(uint32_t workers);
// Attaches the program to the reuseport group of bound socket `fd` (replacing any earlier one). false + *error
// when the kernel refuses.
bool attach_steering(int fd, uint32_t workers, std::string* error);

}  // namespace voxa::io
