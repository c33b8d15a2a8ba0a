// AMQP field tables and arrays with RabbitMQ's value types (fact sheet "Field tables"):
//   t bool, b int8, B uint8, s int16, u uint16, I int32, i uint32, l int64, f float, d double,
//   D decimal (scale octet + int32), S long string, x byte array, A array, T timestamp (uint64), F table, V void.
//
// Two models:
//   - Views (TableView, ArrayView, FieldValueView): what the decoders produce. They borrow the encoded bytes (no copy,
//     no allocation) and read entries lazily. A view must not outlive the buffer it points into. A view made by a
//     decoder (decodeTable, decodeMethod, decodeContentHeader) has been validated whole, nested levels included; the
//     TableView(std::string_view) constructor trusts its caller instead (bytes from encodeEntries(), or stored bytes
//     that were validated when they arrived). Iterating malformed bytes stops early, never reads out of bounds.
//   - Owned values (FieldTable, FieldArray, FieldValue): for building tables (server-properties, x-death) and for
//     editing a received one (FieldTable::fromView, change, encode). They own every byte.
//
// Round trip: FieldTable::fromView(v).encodeEntries() == v.entries() for every valid v (duplicate keys, the order,
// a bool's octet, float bits and NaN payloads are all kept).
//
// Threading: values; no shared state.
#pragma once

#include "codec/Constants.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ferry::amqp {

enum class FieldType : char {
    Bool = 't',
    Int8 = 'b',
    UInt8 = 'B',
    Int16 = 's',
    UInt16 = 'u',
    Int32 = 'I',
    UInt32 = 'i',
    Int64 = 'l',
    Float = 'f',
    Double = 'd',
    Decimal = 'D',
    LongString = 'S',
    ByteArray = 'x',
    Array = 'A',
    Timestamp = 'T',
    Table = 'F',
    Void = 'V',
};

// True when c is one of the 17 type octets above.
bool isFieldType(char c);

// A decimal: value / 10^scale.
struct Decimal {
    uint8_t scale = 0;
    int32_t value = 0;
};

class TableView;
class ArrayView;

namespace detail {
// The scalar part shared by FieldValueView and FieldValue: the type and one 64-bit word holding an integer
// (sign-extended for signed types), a bool's octet, a float's or double's bits, or a decimal (scale << 32 | value).
struct FieldScalar {
    FieldType type = FieldType::Void;
    uint64_t bits = 0;

    bool isInteger() const;
    std::optional<int64_t> asInt64() const;
    std::optional<uint64_t> asUInt64() const;
    std::optional<bool> asBool() const;
    std::optional<double> asDouble() const;
    std::optional<uint64_t> asTimestamp() const;
    std::optional<Decimal> asDecimal() const;
};
} // namespace detail

// One decoded value, borrowing the encoded bytes.
class FieldValueView {
public:
    FieldValueView() = default; // void

    FieldType type() const { return scalar_.type; }
    bool isVoid() const { return scalar_.type == FieldType::Void; }
    // b B s u I i l.
    bool isInteger() const { return scalar_.isInteger(); }
    // Any integer type (b B s u I i l), and T when it fits; nullopt otherwise.
    std::optional<int64_t> asInt64() const { return scalar_.asInt64(); }
    // Any integer type holding a value >= 0, and T.
    std::optional<uint64_t> asUInt64() const { return scalar_.asUInt64(); }
    // t only (any non-zero octet is true).
    std::optional<bool> asBool() const { return scalar_.asBool(); }
    // f, d, and the integer types.
    std::optional<double> asDouble() const { return scalar_.asDouble(); }
    std::optional<uint64_t> asTimestamp() const { return scalar_.asTimestamp(); }
    std::optional<Decimal> asDecimal() const { return scalar_.asDecimal(); }
    // S and x: the bytes, borrowed.
    std::optional<std::string_view> asString() const;
    std::optional<TableView> asTable() const;
    std::optional<ArrayView> asArray() const;

    // S, x: the string; F: the encoded entries; A: the encoded values (all without their length field).
    std::string_view bytes() const { return bytes_; }
    const detail::FieldScalar &scalar() const { return scalar_; }

private:
    friend struct FieldCodecAccess;
    detail::FieldScalar scalar_;
    std::string_view bytes_;
};

struct TableEntryView {
    std::string_view key;
    FieldValueView value;
};

// An encoded table (its entries, without the 4-byte length), borrowed.
class TableView {
public:
    class const_iterator {
    public:
        using value_type = TableEntryView;
        using difference_type = std::ptrdiff_t;
        using reference = const TableEntryView &;
        using pointer = const TableEntryView *;
        using iterator_category = std::forward_iterator_tag;

        const_iterator() = default;
        reference operator*() const { return entry_; }
        pointer operator->() const { return &entry_; }
        const_iterator &operator++();
        const_iterator operator++(int)
        {
            const_iterator old = *this;
            ++*this;
            return old;
        }
        bool operator==(const const_iterator &o) const { return pos_ == o.pos_; }
        bool operator!=(const const_iterator &o) const { return pos_ != o.pos_; }

    private:
        friend class TableView;
        const_iterator(const char *pos, const char *end);
        void read();
        const char *pos_ = nullptr;  // start of the current entry; == end_ at the end
        const char *next_ = nullptr; // start of the entry after it
        const char *end_ = nullptr;
        TableEntryView entry_;
    };

    TableView() = default; // the empty table
    // Trusts that entries are well formed (see the file comment).
    explicit TableView(std::string_view entries) : entries_(entries) {}

    // The encoded entries, without the length field; what appendTable() writes after it.
    std::string_view entries() const { return entries_; }
    // Octets on the wire: the 4-byte length and the entries.
    size_t encodedSize() const { return 4 + entries_.size(); }
    bool empty() const { return entries_.empty(); }
    // Number of entries (a walk over them).
    size_t size() const;

    const_iterator begin() const { return const_iterator(entries_.data(), entries_.data() + entries_.size()); }
    const_iterator end() const
    {
        const char *e = entries_.data() + entries_.size();
        return const_iterator(e, e);
    }

    // The first entry with that key (RabbitMQ looks tables up the same way); nullopt when there is none.
    std::optional<FieldValueView> find(std::string_view key) const;
    bool contains(std::string_view key) const { return find(key).has_value(); }

private:
    std::string_view entries_;
};

// An encoded array (its values, without the 4-byte length), borrowed.
class ArrayView {
public:
    class const_iterator {
    public:
        using value_type = FieldValueView;
        using difference_type = std::ptrdiff_t;
        using reference = const FieldValueView &;
        using pointer = const FieldValueView *;
        using iterator_category = std::forward_iterator_tag;

        const_iterator() = default;
        reference operator*() const { return value_; }
        pointer operator->() const { return &value_; }
        const_iterator &operator++();
        const_iterator operator++(int)
        {
            const_iterator old = *this;
            ++*this;
            return old;
        }
        bool operator==(const const_iterator &o) const { return pos_ == o.pos_; }
        bool operator!=(const const_iterator &o) const { return pos_ != o.pos_; }

    private:
        friend class ArrayView;
        const_iterator(const char *pos, const char *end);
        void read();
        const char *pos_ = nullptr;
        const char *next_ = nullptr;
        const char *end_ = nullptr;
        FieldValueView value_;
    };

    ArrayView() = default;
    explicit ArrayView(std::string_view values) : values_(values) {}

    std::string_view values() const { return values_; }
    size_t encodedSize() const { return 4 + values_.size(); }
    bool empty() const { return values_.empty(); }
    size_t size() const;

    const_iterator begin() const { return const_iterator(values_.data(), values_.data() + values_.size()); }
    const_iterator end() const
    {
        const char *e = values_.data() + values_.size();
        return const_iterator(e, e);
    }

private:
    std::string_view values_;
};

// Decodes the length-prefixed table at the start of input and validates it whole (every type octet, every length,
// nesting up to kMaxTableDepth counting this table as depth 1). On success *out views input, *consumed = 4 + length.
// On failure: 502 SYNTAX_ERROR with a text that says what is wrong.
bool decodeTable(std::string_view input, TableView &out, size_t &consumed, Error &error);
// Validates table entries that arrived without their length field (e.g. read back from storage). depth: the level
// the table itself is at.
bool validateTableEntries(std::string_view entries, Error &error, int depth = 1);

namespace detail {
// validateTableEntries() with the bare reason (no reply code or name) in *detail, for decoders that word the
// error text themselves.
bool validateEntries(std::string_view entries, int depth, std::string &detail);
} // namespace detail

// Appends the 4-byte length and the entries. The caller keeps tables under 4 GiB.
void appendTable(std::string &out, const TableView &table);

// A short human-readable rendering for logs and test failures: {key: value, ...}; strings quoted with non-printable
// octets as \xNN, integers in decimal, tables and arrays nested.
std::string describeTable(const TableView &table);
std::string describeValue(const FieldValueView &value);

// --- Owned values --------------------------------------------------------------------------------------------------

class FieldValue;
struct FieldTableEntry;
using FieldArray = std::vector<FieldValue>;

// A table that owns its entries, in order; duplicate keys are allowed, as on the wire.
class FieldTable {
public:
    using const_iterator = std::vector<FieldTableEntry>::const_iterator;

    FieldTable();
    FieldTable(const FieldTable &);
    FieldTable(FieldTable &&) noexcept;
    FieldTable &operator=(const FieldTable &);
    FieldTable &operator=(FieldTable &&) noexcept;
    ~FieldTable();

    // Appends an entry. Throws std::length_error for a key longer than 255 octets (a programming error: keys are
    // shortstrs).
    FieldTable &add(std::string key, FieldValue value);
    // Replaces the value of the first entry with that key, or appends one.
    FieldTable &set(std::string key, FieldValue value);
    // Removes every entry with that key; returns how many there were.
    size_t remove(std::string_view key);
    // The first entry with that key; nullptr when there is none. The pointer is valid until the table changes.
    const FieldValue *find(std::string_view key) const;
    FieldValue *find(std::string_view key);

    size_t size() const;
    bool empty() const;
    const_iterator begin() const;
    const_iterator end() const;
    const FieldTableEntry &at(size_t i) const;

    // A deep copy of a view (every string copied).
    static FieldTable fromView(const TableView &view);

    // The encoded entries, without the length field: bytes for TableView(...) or for storage.
    std::string encodeEntries() const;
    // Appends the 4-byte length and the entries.
    void appendTo(std::string &out) const;
    // Octets appendTo() writes.
    size_t encodedSize() const;

    friend bool operator==(const FieldTable &a, const FieldTable &b);
    friend bool operator!=(const FieldTable &a, const FieldTable &b) { return !(a == b); }

private:
    std::vector<FieldTableEntry> entries_;
};

// One value that owns its bytes. Implicit from bool (t), strings (S), FieldTable (F) and FieldArray (A); the numeric
// types have named factories so the wire type is always chosen on purpose.
class FieldValue {
public:
    FieldValue() = default; // void
    FieldValue(bool b);
    FieldValue(const char *s) : FieldValue(std::string(s)) {}
    FieldValue(std::string_view s) : FieldValue(std::string(s)) {}
    FieldValue(std::string s);
    FieldValue(FieldTable t);
    FieldValue(FieldArray a);
    // No implicit conversion from numbers (5 would otherwise become a bool): use int32(), int64(), ...
    template <class T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, int> = 0>
    FieldValue(T) = delete;

    static FieldValue int8(int8_t v);
    static FieldValue uint8(uint8_t v);
    static FieldValue int16(int16_t v);
    static FieldValue uint16(uint16_t v);
    static FieldValue int32(int32_t v);
    static FieldValue uint32(uint32_t v);
    static FieldValue int64(int64_t v);
    static FieldValue float32(float v);
    static FieldValue float64(double v);
    static FieldValue decimal(uint8_t scale, int32_t value);
    static FieldValue timestamp(uint64_t secondsSinceEpoch);
    // S; throws std::length_error past 4 GiB - 1.
    static FieldValue longString(std::string s);
    // x; throws std::length_error past 4 GiB - 1.
    static FieldValue bytes(std::string b);
    static FieldValue voidValue() { return FieldValue(); }
    // A deep copy of a view.
    static FieldValue fromView(const FieldValueView &view);

    FieldType type() const { return scalar_.type; }
    bool isVoid() const { return scalar_.type == FieldType::Void; }
    bool isInteger() const { return scalar_.isInteger(); }
    std::optional<int64_t> asInt64() const { return scalar_.asInt64(); }
    std::optional<uint64_t> asUInt64() const { return scalar_.asUInt64(); }
    std::optional<bool> asBool() const { return scalar_.asBool(); }
    std::optional<double> asDouble() const { return scalar_.asDouble(); }
    std::optional<uint64_t> asTimestamp() const { return scalar_.asTimestamp(); }
    std::optional<Decimal> asDecimal() const { return scalar_.asDecimal(); }
    // S and x: views this value's bytes (valid while it lives unchanged).
    std::optional<std::string_view> asString() const;
    // F / A: the nested table or array, nullptr for other types.
    const FieldTable *asTable() const { return scalar_.type == FieldType::Table ? &table_ : nullptr; }
    FieldTable *asTable() { return scalar_.type == FieldType::Table ? &table_ : nullptr; }
    const FieldArray *asArray() const { return scalar_.type == FieldType::Array ? &array_ : nullptr; }
    FieldArray *asArray() { return scalar_.type == FieldType::Array ? &array_ : nullptr; }

    // Appends the type octet and the value.
    void appendTo(std::string &out) const;
    size_t encodedSize() const;

    friend bool operator==(const FieldValue &a, const FieldValue &b);
    friend bool operator!=(const FieldValue &a, const FieldValue &b) { return !(a == b); }

private:
    FieldValue(FieldType type, uint64_t bits) : scalar_{type, bits} {}

    detail::FieldScalar scalar_;
    std::string bytes_; // S, x
    FieldArray array_;  // A
    FieldTable table_;  // F
};

struct FieldTableEntry {
    std::string key;
    FieldValue value;
};

bool operator==(const FieldTableEntry &a, const FieldTableEntry &b);

} // namespace ferry::amqp
