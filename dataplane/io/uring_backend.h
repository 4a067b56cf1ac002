// The io_uring backend (liburing): one ring and one SO_REUSEPORT UDP socket per worker.
//
// Receive: one multishot recvmsg into a provided-buffer ring (rx_buffers buffers of rx_buffer_bytes payload
// each); with UDP_GRO on, one buffer may hold a run of same-size datagrams from one peer, which poll() hands up
// one datagram at a time. A buffer goes back to the ring as soon as its last datagram has been handled.
// Transmit: datagrams are copied into a TX arena; a run to one endpoint with one size becomes one sendmsg with
// UDP_SEGMENT (GSO). Sends are submitted in batches (flush(), or by themselves at tx_batch datagrams).
// The socket is a registered (fixed) file; SQPOLL is optional.
//
// Missing kernel features fall back, each with one line on stderr saying what and why:
//   multishot recvmsg + buffer ring -> single-shot recvmsg into fixed buffers (one request per buffer)
//   UDP_GSO -> one sendmsg per datagram;  UDP_GRO -> one datagram per receive;  SQPOLL -> normal submission;
//   registered file -> plain fd;  BPF steering -> the kernel's hash (sessions are then handed over by the caller).
//
// Steering: with workers > 1 and bpf_steering, the LAST worker (worker == workers - 1) attaches the program
// once its socket is bound. The program's answer is an index into the reuseport group, which is the bind
// order, so backends must be created in worker order 0, 1, ..., workers - 1 (on one thread, or serialised).
// With bind.port == 0, worker 0 gets a port from the kernel and the others must be given local_port() of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/endpoint.h"
#include "io/backend.h"

namespace voxa::io {

struct UringConfig {
    Endpoint bind;                   // v4 address (0.0.0.0 ok) or v6 (:: = dual-stack, v4-mapped peers reported as v4)
    uint32_t worker = 0, workers = 1;   // this worker's index; all workers bind the same port with SO_REUSEPORT
    int wake_fd = -1;                // the worker's doorbell eventfd (not read by us); a write to it wakes wait()
    std::size_t cell_bytes = 1280;   // the TX slot size: the largest datagram transmit() accepts
    std::size_t rx_buffers = 256, rx_buffer_bytes = 65536;   // provided-buffer ring (GRO needs big buffers)
    std::size_t tx_slots = 4096, tx_batch = 64;   // datagrams queued or in flight; datagrams per automatic flush
    uint32_t ring_entries = 1024;    // SQ entries; the CQ has four times as many
    bool sqpoll = false, gso = true, gro = true;
    bool bpf_steering = true;        // attach the steering program (the last worker does; see above); false -> hash
    std::size_t socket_buffer_bytes = 8 << 20;  // SO_RCVBUF/SO_SNDBUF (the *FORCE variants first, as root)
    // Added beyond the agreed API:
    bool multishot = true;           // false forces the single-shot fallback (tests, old kernels)
};

// Creates the socket (SO_REUSEPORT, bound), the ring, registers what it can, and arms receive. On a missing
// kernel feature it falls back and logs ONE line per fallback to stderr. Returns nullptr and sets *error only
// when the backend is unusable (no io_uring, bind failed, bad config). The caller owns the backend; destroying
// it cancels everything in flight and closes the socket (not wake_fd).
std::unique_ptr<Backend> make_uring_backend(const UringConfig& config, std::string* error);

}  // namespace voxa::io
