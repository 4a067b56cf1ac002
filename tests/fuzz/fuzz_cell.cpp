// Fuzz target for cells: the header parser, a relay's forward peel and the end's AEAD open on RELAY cells, and
// the relay side of ntor on CREATE cells. The first input byte picks a mode, the rest is the cell:
//   0: the cell at its raw size (cell_bytes 1280), so size checks see every length
//   1: padded / truncated to the default cell (1280)          2: the same for the smallest cell (512)
//   3: default size, and a CREATE's node id replaced by ours, so the DH and key schedule run
// Everything static is built once (deterministic keys), so crashes replay exactly.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "circuit/cell.h"
#include "circuit/ntor.h"
#include "circuit/onion.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "voxa/wire.h"

namespace {

using namespace voxa;

struct Statics {
    crypto::Identity self;
    circuit::HopCrypto hop;

    static crypto::Identity make_identity() {
        std::array<uint8_t, 32> seed;
        seed.fill(0x42);
        return crypto::Identity::from_seed(seed);
    }
    static circuit::HopSecrets make_secrets() {
        // The seeds in tests/fuzz/corpus/cell were wrapped with these same keys (deep RELAY paths reachable).
        static const uint8_t kIkm[] = "voxa fuzz_cell static hop keys";
        circuit::HopSecrets s;
        crypto::kdf({s.fwd_stream.span(), s.fwd_nonce.span(), s.back_stream.span(), s.back_nonce.span(),
                     s.fwd_e2e.span(), s.back_e2e.span()},
                    "voxa-fuzz-cell", {kIkm, sizeof kIkm - 1});
        return s;
    }
    Statics() : self(make_identity()), hop(make_secrets(), crypto::default_provider()) {}
};

Statics& statics() {
    static const bool ok = crypto::init();
    (void)ok;
    static Statics s;
    return s;
}

void exercise(Statics& st, uint8_t* cell, std::size_t len, std::size_t cell_bytes, bool own_node_id) {
    circuit::CellView v{};
    if (circuit::parse_cell(cell, len, cell_bytes, &v) != circuit::Drop::kNone) return;
    switch (v.cmd) {
        case wire::CellCmd::kRelayForward:
        case wire::CellCmd::kRelayBackward: {
            uint8_t* nonce = v.body;
            uint8_t* onion = v.body + wire::kCellNonceBytes;
            const std::size_t onion_len = v.body_len - wire::kCellNonceBytes;
            // The end's view first (on a copy of the nonce; the onion may be left garbled, as in a real drop).
            std::vector<uint8_t> copy(onion, onion + onion_len);
            uint8_t n[wire::kCellNonceBytes];
            std::memcpy(n, nonce, sizeof n);
            const bool ok = st.hop.end_receive_forward(n, copy.data(), copy.size());
            (void)ok;
            if (v.cmd == wire::CellCmd::kRelayForward) {
                st.hop.relay_forward(nonce, onion, onion_len);
            } else {
                st.hop.relay_backward(nonce, onion, onion_len);
            }
            break;
        }
        case wire::CellCmd::kCreate: {
            if (own_node_id) std::memcpy(v.body, st.self.id().data(), kNodeIdBytes);
            uint8_t created[circuit::kCreatedBytes];
            circuit::HopSecrets secrets;
            const circuit::Drop d = circuit::ntor_server(st.self, v.body, created, &secrets);
            (void)d;
            break;
        }
        default:
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    Statics& st = statics();
    const uint8_t mode = data[0] % 4;
    ++data;
    --size;
    if (mode == 0) {
        std::vector<uint8_t> raw(data, data + size);   // exact size: ASan sees any read past the end
        exercise(st, raw.data(), raw.size(), wire::kCellBytesDefault, false);
        return 0;
    }
    const std::size_t cell_bytes = mode == 2 ? wire::kCellBytesMin : wire::kCellBytesDefault;
    std::vector<uint8_t> cell(wire::cell_payload_bytes(cell_bytes), 0);
    std::memcpy(cell.data(), data, std::min(size, cell.size()));
    exercise(st, cell.data(), cell.size(), cell_bytes, mode == 3);
    return 0;
}
