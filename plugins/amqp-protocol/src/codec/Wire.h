// Big-endian loads and stores on char buffers, written with shifts so they are portable (any host byte order, any
// alignment, no compiler builtins); GCC, Clang and MSVC turn them into single byte-swapping moves.
//
// load*: the caller guarantees the bytes are there. append*: grow a std::string. store*: overwrite bytes the caller
// reserved earlier (length fields patched after the content is written).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace ferry::amqp::wire {

inline uint8_t load8(const char *p) { return static_cast<uint8_t>(*p); }

inline uint16_t load16(const char *p)
{
    const auto *u = reinterpret_cast<const unsigned char *>(p);
    return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

inline uint32_t load32(const char *p)
{
    const auto *u = reinterpret_cast<const unsigned char *>(p);
    return (static_cast<uint32_t>(u[0]) << 24) | (static_cast<uint32_t>(u[1]) << 16) |
           (static_cast<uint32_t>(u[2]) << 8) | static_cast<uint32_t>(u[3]);
}

inline uint64_t load64(const char *p) { return (static_cast<uint64_t>(load32(p)) << 32) | load32(p + 4); }

inline void store16(char *p, uint16_t v)
{
    p[0] = static_cast<char>(v >> 8);
    p[1] = static_cast<char>(v);
}

inline void store32(char *p, uint32_t v)
{
    p[0] = static_cast<char>(v >> 24);
    p[1] = static_cast<char>(v >> 16);
    p[2] = static_cast<char>(v >> 8);
    p[3] = static_cast<char>(v);
}

inline void store64(char *p, uint64_t v)
{
    store32(p, static_cast<uint32_t>(v >> 32));
    store32(p + 4, static_cast<uint32_t>(v));
}

inline void append8(std::string &out, uint8_t v) { out.push_back(static_cast<char>(v)); }

inline void append16(std::string &out, uint16_t v)
{
    char b[2];
    store16(b, v);
    out.append(b, 2);
}

inline void append32(std::string &out, uint32_t v)
{
    char b[4];
    store32(b, v);
    out.append(b, 4);
}

inline void append64(std::string &out, uint64_t v)
{
    char b[8];
    store64(b, v);
    out.append(b, 8);
}

// Bit-exact float/double <-> integer (NaN payloads survive).
inline uint32_t floatBits(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline float floatFromBits(uint32_t u)
{
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
inline uint64_t doubleBits(double d)
{
    uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u;
}
inline double doubleFromBits(uint64_t u)
{
    double d;
    std::memcpy(&d, &u, sizeof d);
    return d;
}

// Makes room for `more` further bytes, growing geometrically so that exact-size reservations made append after
// append (one per delivery) never degrade into one reallocation each.
inline void reserveMore(std::string &out, size_t more)
{
    const size_t need = out.size() + more;
    if (need > out.capacity())
        out.reserve(need > 2 * out.capacity() ? need : 2 * out.capacity());
}

} // namespace ferry::amqp::wire
