// Crc32c.h -- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), software, table-driven (slicing by 8).
//
// crc32c_extend(crc32c_extend(0, a), b) == crc32c(a followed by b), so a record's CRC is computed over its header
// and its payload pieces without concatenating them. Check value: crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::storage_file {

// Continues a CRC-32C (`crc` is a finished value, 0 to start) over n bytes at data.
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n) noexcept;

inline uint32_t crc32c(const void *data, size_t n) noexcept
{
    return crc32c_extend(0, data, n);
}

} // namespace ferry::storage_file
