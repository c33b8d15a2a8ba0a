// Visitors over a method's arguments: every struct in MethodStructs.h presents its arguments in wire order through
// fields(self, visitor), and these turn that into decoding, encoding, sizing and a description. Header-only because
// the encoding templates in Methods.h and Content.h use them; the session code has no reason to include it.
//
// Bits: consecutive bit arguments share one octet, the first in its lowest bit; any other argument (or a ninth bit)
// starts a new octet. Decoding ignores the unused high bits of a bit octet, as RabbitMQ does; encoding writes them 0.
//
// Threading: each visitor is used by one thread at a time; no shared state.
#pragma once

#include "codec/FieldTable.h"
#include "codec/Wire.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

namespace ferry::amqp::detail {

// Octets the arguments take on the wire; ok() is false when a shortstr is longer than 255 octets or a longstr
// longer than 4 GiB - 1 (such arguments cannot be encoded).
class ArgumentSizer {
public:
    void octet(const char *, uint8_t) { other(1); }
    void u16(const char *, uint16_t) { other(2); }
    void u32(const char *, uint32_t) { other(4); }
    void u64(const char *, uint64_t) { other(8); }
    void bit(const char *, bool)
    {
        if (bitIndex_ == 8) {
            ++size_;
            bitIndex_ = 0;
        }
        ++bitIndex_;
    }
    void shortString(const char *, std::string_view s)
    {
        ok_ = ok_ && s.size() <= 255;
        other(1 + s.size());
    }
    void longString(const char *, std::string_view s)
    {
        ok_ = ok_ && s.size() <= std::numeric_limits<uint32_t>::max();
        other(4 + s.size());
    }
    void table(const char *, const TableView &t) { other(t.encodedSize()); }

    size_t size() const { return size_; }
    bool ok() const { return ok_; }

private:
    void other(size_t n)
    {
        bitIndex_ = 8;
        size_ += n;
    }
    size_t size_ = 0;
    int bitIndex_ = 8; // 8: no bit octet open
    bool ok_ = true;
};

// Appends the arguments to a string. The caller checks with ArgumentSizer (or accepts a false ok() and rolls the
// output back): an over-long string is not written and makes ok() false.
class ArgumentWriter {
public:
    explicit ArgumentWriter(std::string &out) : out_(out) {}

    void octet(const char *, uint8_t v)
    {
        bitIndex_ = 8;
        wire::append8(out_, v);
    }
    void u16(const char *, uint16_t v)
    {
        bitIndex_ = 8;
        wire::append16(out_, v);
    }
    void u32(const char *, uint32_t v)
    {
        bitIndex_ = 8;
        wire::append32(out_, v);
    }
    void u64(const char *, uint64_t v)
    {
        bitIndex_ = 8;
        wire::append64(out_, v);
    }
    void bit(const char *, bool v)
    {
        if (bitIndex_ == 8) {
            bitAt_ = out_.size();
            out_.push_back(0);
            bitIndex_ = 0;
        }
        if (v)
            out_[bitAt_] = static_cast<char>(static_cast<unsigned char>(out_[bitAt_]) | (1u << bitIndex_));
        ++bitIndex_;
    }
    void shortString(const char *, std::string_view s)
    {
        bitIndex_ = 8;
        if (s.size() > 255) {
            ok_ = false;
            return;
        }
        wire::append8(out_, static_cast<uint8_t>(s.size()));
        out_.append(s);
    }
    void longString(const char *, std::string_view s)
    {
        bitIndex_ = 8;
        if (s.size() > std::numeric_limits<uint32_t>::max()) {
            ok_ = false;
            return;
        }
        wire::append32(out_, static_cast<uint32_t>(s.size()));
        out_.append(s);
    }
    void table(const char *, const TableView &t)
    {
        bitIndex_ = 8;
        appendTable(out_, t);
    }

    bool ok() const { return ok_; }

private:
    std::string &out_;
    size_t bitAt_ = 0;
    int bitIndex_ = 8;
    bool ok_ = true;
};

// Reads arguments from a payload into views of it. After the first failure every further call is a no-op;
// failedField() and reason() say what went wrong.
class ArgumentReader {
public:
    explicit ArgumentReader(std::string_view args) : p_(args.data()), end_(args.data() + args.size()) {}

    void octet(const char *name, uint8_t &v)
    {
        bitIndex_ = 8;
        if (need(name, 1)) {
            v = wire::load8(p_);
            p_ += 1;
        }
    }
    void u16(const char *name, uint16_t &v)
    {
        bitIndex_ = 8;
        if (need(name, 2)) {
            v = wire::load16(p_);
            p_ += 2;
        }
    }
    void u32(const char *name, uint32_t &v)
    {
        bitIndex_ = 8;
        if (need(name, 4)) {
            v = wire::load32(p_);
            p_ += 4;
        }
    }
    void u64(const char *name, uint64_t &v)
    {
        bitIndex_ = 8;
        if (need(name, 8)) {
            v = wire::load64(p_);
            p_ += 8;
        }
    }
    void bit(const char *name, bool &v)
    {
        if (bitIndex_ == 8) {
            if (!need(name, 1))
                return;
            bitOctet_ = wire::load8(p_);
            p_ += 1;
            bitIndex_ = 0;
        } else if (failed_) {
            return;
        }
        v = ((bitOctet_ >> bitIndex_) & 1u) != 0;
        ++bitIndex_;
    }
    void shortString(const char *name, std::string_view &v)
    {
        bitIndex_ = 8;
        if (!need(name, 1))
            return;
        const size_t len = wire::load8(p_);
        if (left() - 1 < len) {
            fail(name, "shortstr of " + std::to_string(len) + " octets runs past the end of the frame");
            return;
        }
        v = std::string_view(p_ + 1, len);
        p_ += 1 + len;
    }
    void longString(const char *name, std::string_view &v)
    {
        bitIndex_ = 8;
        if (!need(name, 4))
            return;
        const uint32_t len = wire::load32(p_);
        if (left() - 4 < len) {
            fail(name, "longstr of " + std::to_string(len) + " octets runs past the end of the frame");
            return;
        }
        v = std::string_view(p_ + 4, len);
        p_ += 4 + static_cast<size_t>(len);
    }
    void table(const char *name, TableView &v)
    {
        bitIndex_ = 8;
        if (!need(name, 4))
            return;
        const uint32_t len = wire::load32(p_);
        if (left() - 4 < len) {
            fail(name, "field table length " + std::to_string(len) + " exceeds the " + std::to_string(left() - 4) +
                           " octets left");
            return;
        }
        const std::string_view entries(p_ + 4, len);
        std::string why;
        if (!detail::validateEntries(entries, 1, why)) {
            fail(name, why);
            return;
        }
        v = TableView(entries);
        p_ += 4 + static_cast<size_t>(len);
    }

    bool ok() const { return !failed_; }
    // Octets after the last argument read.
    size_t left() const { return static_cast<size_t>(end_ - p_); }
    const char *failedField() const { return failedField_; }
    const std::string &reason() const { return reason_; }

private:
    bool need(const char *name, size_t n)
    {
        if (failed_)
            return false;
        if (left() < n) {
            fail(name, "truncated");
            return false;
        }
        return true;
    }
    void fail(const char *name, std::string why)
    {
        failed_ = true;
        failedField_ = name;
        reason_ = std::move(why);
    }

    const char *p_;
    const char *end_;
    uint8_t bitOctet_ = 0;
    int bitIndex_ = 8;
    bool failed_ = false;
    const char *failedField_ = "";
    std::string reason_;
};

// "name=value, ..." for logs and tests.
class ArgumentDescriber {
public:
    explicit ArgumentDescriber(std::string &out) : out_(out) {}

    void octet(const char *name, uint8_t v) { number(name, v); }
    void u16(const char *name, uint16_t v) { number(name, v); }
    void u32(const char *name, uint32_t v) { number(name, v); }
    void u64(const char *name, uint64_t v) { number(name, v); }
    void bit(const char *name, bool v)
    {
        label(name);
        out_ += v ? "true" : "false";
    }
    void shortString(const char *name, std::string_view s) { string(name, s); }
    void longString(const char *name, std::string_view s) { string(name, s); }
    void table(const char *name, const TableView &t)
    {
        label(name);
        out_ += describeTable(t);
    }

private:
    void label(const char *name)
    {
        if (!first_)
            out_ += ", ";
        first_ = false;
        out_ += name;
        out_ += '=';
    }
    void number(const char *name, uint64_t v)
    {
        label(name);
        out_ += std::to_string(v);
    }
    void string(const char *name, std::string_view s)
    {
        label(name);
        out_ += '\'';
        for (const char c : s) {
            const auto u = static_cast<unsigned char>(c);
            if (u >= 0x20 && u < 0x7F && c != '\\' && c != '\'') {
                out_ += c;
            } else {
                char buf[5];
                std::snprintf(buf, sizeof buf, "\\x%02x", u);
                out_ += buf;
            }
        }
        out_ += '\'';
    }

    std::string &out_;
    bool first_ = true;
};

} // namespace ferry::amqp::detail
