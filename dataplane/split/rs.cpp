#include "split/rs.h"

#include <algorithm>
#include <array>
#include <optional>

#include <isa-l/erasure_code.h>

#include "split/blake2b_lanes.h"
#include "voxa/assert.h"
#include "voxa/wire.h"

namespace voxa::split {
namespace {

// Column chunk: small enough that a chunk of all n parts stays in L2 between the erasure code and the hash,
// large enough that per-call overhead of ISA-L and BLAKE2b is noise. A multiple of 64 (ISA-L's vector width).
constexpr std::size_t kChunkBytes = 16 << 10;
static_assert(kChunkBytes % 64 == 0);

constexpr std::size_t kK = wire::kPartsMax;
constexpr std::size_t kGroups = (kK + Blake2bLanes::kLanesMax - 1) / Blake2bLanes::kLanesMax;

// BLAKE2b-512("voxa.part") over `count` equal-length buffers, fed chunk by chunk, 8 buffers per vector pass.
class PartHashers {
public:
    explicit PartHashers(std::size_t count) noexcept : count_(count) {
        for (std::size_t g = 0; g * Blake2bLanes::kLanesMax < count; ++g)
            groups_[g].emplace(std::min(Blake2bLanes::kLanesMax, count - g * Blake2bLanes::kLanesMax), kInnerBytes,
                               "voxa.part");
    }
    // Absorbs [off, off + len) of every buffer; `last` for the chunk that ends the buffers (then inner is written).
    void chunk(uint8_t* const* bufs, std::size_t off, std::size_t len, bool last, Inner* const* inner) noexcept {
        std::size_t const tail = last ? (len % Blake2bLanes::kBlockBytes ? len % Blake2bLanes::kBlockBytes
                                                                         : Blake2bLanes::kBlockBytes)
                                      : 0;
        for (std::size_t g = 0; g < kGroups && groups_[g]; ++g) {
            std::array<const uint8_t*, Blake2bLanes::kLanesMax> in{};
            std::array<uint8_t*, Blake2bLanes::kLanesMax> out{};
            std::size_t const first = g * Blake2bLanes::kLanesMax;
            std::size_t const lanes = std::min(Blake2bLanes::kLanesMax, count_ - first);
            for (std::size_t i = 0; i < lanes; ++i) in[i] = bufs[first + i] + off;
            groups_[g]->update(in.data(), len - tail);
            if (last) {
                for (std::size_t i = 0; i < lanes; ++i) {
                    in[i] += len - tail;
                    out[i] = inner[first + i]->data();
                }
                groups_[g]->final(in.data(), tail, out.data());
            }
        }
    }

private:
    std::size_t count_;
    std::array<std::optional<Blake2bLanes>, kGroups> groups_;
};
static_assert(kChunkBytes % Blake2bLanes::kBlockBytes == 0, "only the last chunk may end in a partial block");

}  // namespace

void rs_encode_and_hash(std::size_t k, std::size_t n, std::size_t part_bytes, uint8_t* parts, Inner* inner) noexcept {
    VOXA_ASSERT(k >= 1 && k <= n && n <= wire::kPartsMax && part_bytes % 64 == 0);
    std::size_t const rows = n - k;
    std::array<uint8_t, kK * kK> gen{};
    std::array<uint8_t, kK * kK * 32> tables{};
    if (rows > 0) {
        gf_gen_cauchy1_matrix(gen.data(), int(n), int(k));
        ec_init_tables(int(k), int(rows), gen.data() + k * k, tables.data());
    }
    PartHashers hashers(n);
    std::array<uint8_t*, kK> bufs{}, data{}, coding{};
    std::array<Inner*, kK> inner_out{};
    for (std::size_t i = 0; i < n; ++i) {
        bufs[i] = parts + i * part_bytes;
        inner_out[i] = &inner[i];
    }
    for (std::size_t off = 0; off < part_bytes; off += kChunkBytes) {
        std::size_t const len = std::min(kChunkBytes, part_bytes - off);
        if (rows > 0) {
            for (std::size_t i = 0; i < k; ++i) data[i] = parts + i * part_bytes + off;
            for (std::size_t i = 0; i < rows; ++i) coding[i] = parts + (k + i) * part_bytes + off;
            ec_encode_data(int(len), int(k), int(rows), tables.data(), data.data(), coding.data());
        }
        hashers.chunk(bufs.data(), off, len, off + len == part_bytes, inner_out.data());
    }
}

bool rs_rebuild(std::size_t k, std::size_t n, const uint8_t* rows, const uint8_t* missing, std::size_t missing_count,
                std::size_t part_bytes, const uint8_t* const* src, uint8_t* const* dst, Inner* inner) noexcept {
    VOXA_ASSERT(k >= 1 && k <= n && n <= wire::kPartsMax && part_bytes % 64 == 0);
    VOXA_ASSERT(missing_count >= 1 && missing_count <= k);
    std::array<uint8_t, kK * kK> gen{}, sub{}, inv{}, dec{};
    gf_gen_cauchy1_matrix(gen.data(), int(n), int(k));
    for (std::size_t i = 0; i < k; ++i) {
        VOXA_ASSERT(rows[i] < n && (i == 0 || rows[i] > rows[i - 1]));
        std::copy_n(gen.data() + rows[i] * k, k, sub.data() + i * k);
    }
    if (gf_invert_matrix(sub.data(), inv.data(), int(k)) != 0) return false;
    // inv * (parts in rows) = data slices, so row j of inv rebuilds slice j.
    for (std::size_t i = 0; i < missing_count; ++i) {
        VOXA_ASSERT(missing[i] < k);
        std::copy_n(inv.data() + missing[i] * k, k, dec.data() + i * k);
    }
    std::array<uint8_t, kK * kK * 32> tables{};
    ec_init_tables(int(k), int(missing_count), dec.data(), tables.data());

    PartHashers hashers(missing_count);
    std::array<Inner*, kK> inner_out{};
    for (std::size_t i = 0; i < missing_count; ++i) inner_out[i] = &inner[missing[i]];
    std::array<uint8_t*, kK> in{}, out{};
    for (std::size_t off = 0; off < part_bytes; off += kChunkBytes) {
        std::size_t const len = std::min(kChunkBytes, part_bytes - off);
        // ISA-L takes non-const sources but only reads them.
        for (std::size_t i = 0; i < k; ++i) in[i] = const_cast<uint8_t*>(src[i]) + off;
        for (std::size_t i = 0; i < missing_count; ++i) out[i] = dst[i] + off;
        ec_encode_data(int(len), int(k), int(missing_count), tables.data(), in.data(), out.data());
        hashers.chunk(dst, off, len, off + len == part_bytes, inner_out.data());
    }
    return true;
}

}  // namespace voxa::split
