// Crc32.h -- CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as used by zlib and Ethernet) for record checksums.
//
// Contract: crc32_update(crc32_update(0, a), b) == crc32 of a followed by b, so head and body are checksummed
// without concatenating them. Pure functions, thread-safe, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::storage_sqlite {

// Continues a CRC-32 over `len` more bytes. Start with crc = 0. `data` may be null when len is 0.
uint32_t crc32_update(uint32_t crc, const uint8_t *data, size_t len) noexcept;

} // namespace ferry::storage_sqlite
