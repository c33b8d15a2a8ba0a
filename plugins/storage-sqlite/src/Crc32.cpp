// Crc32.cpp -- table-driven CRC-32, eight bytes per step ("slicing by 8": eight 256-entry tables built at compile
// time, where table k gives the CRC contribution of a byte followed by k zero bytes).
#include "Crc32.h"

#include <array>

namespace ferry::storage_sqlite {
namespace {

constexpr uint32_t kPolynomial = 0xEDB88320u;

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables()
{
    Tables t{};
    for (uint32_t byte = 0; byte < 256; ++byte) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1u) ? (crc >> 1) ^ kPolynomial : crc >> 1;
        t[0][byte] = crc;
    }
    for (uint32_t byte = 0; byte < 256; ++byte)
        for (size_t k = 1; k < 8; ++k)
            t[k][byte] = (t[k - 1][byte] >> 8) ^ t[0][t[k - 1][byte] & 0xFFu];
    return t;
}

constexpr Tables kTables = make_tables();

// Bytes are combined explicitly (no type punning), so the result does not depend on the host's byte order.
inline uint32_t load_le32(const uint8_t *p)
{
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

} // namespace

uint32_t crc32_update(uint32_t crc, const uint8_t *data, size_t len) noexcept
{
    crc = ~crc;
    while (len >= 8) {
        const uint32_t lo = load_le32(data) ^ crc;
        const uint32_t hi = load_le32(data + 4);
        crc = kTables[7][lo & 0xFFu] ^ kTables[6][(lo >> 8) & 0xFFu] ^ kTables[5][(lo >> 16) & 0xFFu] ^
              kTables[4][lo >> 24] ^ kTables[3][hi & 0xFFu] ^ kTables[2][(hi >> 8) & 0xFFu] ^
              kTables[1][(hi >> 16) & 0xFFu] ^ kTables[0][hi >> 24];
        data += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ kTables[0][(crc ^ *data++) & 0xFFu];
    return ~crc;
}

} // namespace ferry::storage_sqlite
