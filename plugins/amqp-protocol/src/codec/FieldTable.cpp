#include "codec/FieldTable.h"

#include "codec/Wire.h"

#include <cstdio>
#include <limits>
#include <stdexcept>

namespace ferry::amqp {

namespace {

// Octets that follow the type octet for the fixed-size types; -1 for the length-prefixed ones, -2 for unknown.
int fixedSize(char type)
{
    switch (type) {
    case 'V': return 0;
    case 't':
    case 'b':
    case 'B': return 1;
    case 's':
    case 'u': return 2;
    case 'I':
    case 'i':
    case 'f': return 4;
    case 'D': return 5;
    case 'l':
    case 'd':
    case 'T': return 8;
    case 'S':
    case 'x':
    case 'A':
    case 'F': return -1;
    default: return -2;
    }
}

enum class ScanError { None, Truncated, UnknownType };

// Printable rendering of wire bytes for error texts and describe*(): ASCII as is, the rest as \xNN, cut at `max`.
std::string printable(std::string_view s, size_t max = std::numeric_limits<size_t>::max())
{
    std::string out;
    size_t n = 0;
    for (const char c : s) {
        if (n++ == max) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7F && c != '\\' && c != '\'' && c != '"') {
            out.push_back(c);
        } else {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        }
    }
    return out;
}

std::string typeText(char type)
{
    char buf[24];
    const auto u = static_cast<unsigned char>(type);
    if (u >= 0x20 && u < 0x7F)
        std::snprintf(buf, sizeof buf, "'%c' (0x%02x)", type, u);
    else
        std::snprintf(buf, sizeof buf, "0x%02x", u);
    return buf;
}

} // namespace

// Reads encoded values into views; the only code that sets a FieldValueView's private members.
struct FieldCodecAccess {
    // One value of `type` at p. F and A are taken whole as bytes, not descended. Returns the position after it, or
    // nullptr with *err set.
    static const char *scan(char type, const char *p, const char *end, FieldValueView &out, ScanError &err)
    {
        const int fixed = fixedSize(type);
        if (fixed == -2) {
            err = ScanError::UnknownType;
            return nullptr;
        }
        const auto left = static_cast<size_t>(end - p);
        out.scalar_.type = static_cast<FieldType>(type);
        out.scalar_.bits = 0;
        out.bytes_ = {};
        if (fixed >= 0) {
            if (left < static_cast<size_t>(fixed)) {
                err = ScanError::Truncated;
                return nullptr;
            }
            uint64_t bits = 0;
            switch (type) {
            case 't':
            case 'B': bits = wire::load8(p); break;
            case 'b': bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(wire::load8(p)))); break;
            case 'u': bits = wire::load16(p); break;
            case 's': bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(wire::load16(p)))); break;
            case 'i':
            case 'f': bits = wire::load32(p); break;
            case 'I': bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(wire::load32(p)))); break;
            case 'D': bits = (static_cast<uint64_t>(wire::load8(p)) << 32) | wire::load32(p + 1); break;
            case 'l':
            case 'd':
            case 'T': bits = wire::load64(p); break;
            default: break; // V
            }
            out.scalar_.bits = bits;
            return p + fixed;
        }
        if (left < 4) {
            err = ScanError::Truncated;
            return nullptr;
        }
        const uint32_t len = wire::load32(p);
        if (len > left - 4) {
            err = ScanError::Truncated;
            return nullptr;
        }
        out.bytes_ = std::string_view(p + 4, len);
        return p + 4 + len;
    }

    // One table entry at p: key shortstr, type octet, value.
    static const char *scanEntry(const char *p, const char *end, TableEntryView &out, ScanError &err)
    {
        if (p == end) {
            err = ScanError::Truncated;
            return nullptr;
        }
        const size_t keyLen = wire::load8(p);
        if (static_cast<size_t>(end - p) < 1 + keyLen + 1) {
            err = ScanError::Truncated;
            return nullptr;
        }
        out.key = std::string_view(p + 1, keyLen);
        p += 1 + keyLen;
        const char type = *p;
        return scan(type, p + 1, end, out.value, err);
    }
};

namespace detail {

namespace {

bool validateArrayValues(const char *p, const char *end, int depth, std::string &detail);

bool validateNested(const FieldValueView &v, int depth, std::string &detail)
{
    if (v.type() == FieldType::Table)
        return validateEntries(v.bytes(), depth + 1, detail);
    if (v.type() == FieldType::Array)
        return validateArrayValues(v.bytes().data(), v.bytes().data() + v.bytes().size(), depth + 1, detail);
    return true;
}

bool depthOk(int depth, std::string &detail)
{
    if (depth <= kMaxTableDepth)
        return true;
    detail = "field table nested deeper than " + std::to_string(kMaxTableDepth) + " levels";
    return false;
}

bool validateArrayValues(const char *p, const char *end, int depth, std::string &detail)
{
    if (!depthOk(depth, detail))
        return false;
    while (p < end) {
        FieldValueView v;
        ScanError err = ScanError::None;
        const char type = *p;
        const char *next = FieldCodecAccess::scan(type, p + 1, end, v, err);
        if (!next) {
            if (err == ScanError::UnknownType)
                detail = "unknown field type " + typeText(type) + " in an array";
            else
                detail = "array value " + typeText(type) + " runs past the end of its array";
            return false;
        }
        if (!validateNested(v, depth, detail))
            return false;
        p = next;
    }
    return true;
}

} // namespace

bool validateEntries(std::string_view entries, int depth, std::string &detail)
{
    if (!depthOk(depth, detail))
        return false;
    const char *p = entries.data();
    const char *end = p + entries.size();
    while (p < end) {
        TableEntryView e;
        ScanError err = ScanError::None;
        const char *next = FieldCodecAccess::scanEntry(p, end, e, err);
        if (!next) {
            const size_t keyLen = wire::load8(p);
            if (static_cast<size_t>(end - p) < 1 + keyLen + 1) {
                detail = "field table entry truncated";
            } else {
                const std::string key = printable(std::string_view(p + 1, keyLen), 40);
                const char type = p[1 + keyLen];
                if (err == ScanError::UnknownType)
                    detail = "unknown field type " + typeText(type) + " for key '" + key + "'";
                else
                    detail = "field value " + typeText(type) + " for key '" + key + "' runs past the end of its table";
            }
            return false;
        }
        if (!validateNested(e.value, depth, detail))
            return false;
        p = next;
    }
    return true;
}

} // namespace detail

bool isFieldType(char c) { return fixedSize(c) != -2; }

bool validateTableEntries(std::string_view entries, Error &error, int depth)
{
    std::string detail;
    if (detail::validateEntries(entries, depth, detail))
        return true;
    error = makeError(reply::kSyntaxError, detail);
    return false;
}

bool decodeTable(std::string_view input, TableView &out, size_t &consumed, Error &error)
{
    if (input.size() < 4) {
        error = makeError(reply::kSyntaxError, "field table length truncated");
        return false;
    }
    const uint32_t len = wire::load32(input.data());
    if (len > input.size() - 4) {
        error = makeError(reply::kSyntaxError, "field table length " + std::to_string(len) + " exceeds the " +
                                                   std::to_string(input.size() - 4) + " octets left");
        return false;
    }
    const std::string_view entries = input.substr(4, len);
    if (!validateTableEntries(entries, error, 1))
        return false;
    out = TableView(entries);
    consumed = 4 + static_cast<size_t>(len);
    return true;
}

void appendTable(std::string &out, const TableView &table)
{
    wire::append32(out, static_cast<uint32_t>(table.entries().size()));
    out.append(table.entries());
}

// --- FieldScalar ------------------------------------------------------------------------------------------------------

namespace detail {

bool FieldScalar::isInteger() const
{
    switch (type) {
    case FieldType::Int8:
    case FieldType::UInt8:
    case FieldType::Int16:
    case FieldType::UInt16:
    case FieldType::Int32:
    case FieldType::UInt32:
    case FieldType::Int64: return true;
    default: return false;
    }
}

namespace {
bool isSigned(FieldType t)
{
    return t == FieldType::Int8 || t == FieldType::Int16 || t == FieldType::Int32 || t == FieldType::Int64;
}
} // namespace

std::optional<int64_t> FieldScalar::asInt64() const
{
    if (isInteger())
        return static_cast<int64_t>(bits); // unsigned types are at most 32 bits wide
    if (type == FieldType::Timestamp && bits <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return static_cast<int64_t>(bits);
    return std::nullopt;
}

std::optional<uint64_t> FieldScalar::asUInt64() const
{
    if (isSigned(type))
        return static_cast<int64_t>(bits) >= 0 ? std::optional<uint64_t>(bits) : std::nullopt;
    if (isInteger() || type == FieldType::Timestamp)
        return bits;
    return std::nullopt;
}

std::optional<bool> FieldScalar::asBool() const
{
    if (type == FieldType::Bool)
        return bits != 0;
    return std::nullopt;
}

std::optional<double> FieldScalar::asDouble() const
{
    if (type == FieldType::Float)
        return static_cast<double>(wire::floatFromBits(static_cast<uint32_t>(bits)));
    if (type == FieldType::Double)
        return wire::doubleFromBits(bits);
    if (isSigned(type))
        return static_cast<double>(static_cast<int64_t>(bits));
    if (isInteger())
        return static_cast<double>(bits);
    return std::nullopt;
}

std::optional<uint64_t> FieldScalar::asTimestamp() const
{
    if (type == FieldType::Timestamp)
        return bits;
    return std::nullopt;
}

std::optional<Decimal> FieldScalar::asDecimal() const
{
    if (type != FieldType::Decimal)
        return std::nullopt;
    Decimal d;
    d.scale = static_cast<uint8_t>(bits >> 32);
    d.value = static_cast<int32_t>(static_cast<uint32_t>(bits));
    return d;
}

} // namespace detail

// --- Views ------------------------------------------------------------------------------------------------------------

std::optional<std::string_view> FieldValueView::asString() const
{
    if (scalar_.type == FieldType::LongString || scalar_.type == FieldType::ByteArray)
        return bytes_;
    return std::nullopt;
}

std::optional<TableView> FieldValueView::asTable() const
{
    if (scalar_.type == FieldType::Table)
        return TableView(bytes_);
    return std::nullopt;
}

std::optional<ArrayView> FieldValueView::asArray() const
{
    if (scalar_.type == FieldType::Array)
        return ArrayView(bytes_);
    return std::nullopt;
}

TableView::const_iterator::const_iterator(const char *pos, const char *end) : pos_(pos), next_(pos), end_(end)
{
    if (pos_ != end_)
        read();
}

void TableView::const_iterator::read()
{
    ScanError err = ScanError::None;
    next_ = FieldCodecAccess::scanEntry(pos_, end_, entry_, err);
    if (!next_) { // malformed: stop
        pos_ = end_;
        next_ = end_;
    }
}

TableView::const_iterator &TableView::const_iterator::operator++()
{
    pos_ = next_;
    if (pos_ != end_)
        read();
    return *this;
}

size_t TableView::size() const
{
    size_t n = 0;
    for (auto it = begin(); it != end(); ++it)
        ++n;
    return n;
}

std::optional<FieldValueView> TableView::find(std::string_view key) const
{
    for (const TableEntryView &e : *this)
        if (e.key == key)
            return e.value;
    return std::nullopt;
}

ArrayView::const_iterator::const_iterator(const char *pos, const char *end) : pos_(pos), next_(pos), end_(end)
{
    if (pos_ != end_)
        read();
}

void ArrayView::const_iterator::read()
{
    ScanError err = ScanError::None;
    next_ = FieldCodecAccess::scan(*pos_, pos_ + 1, end_, value_, err);
    if (!next_) {
        pos_ = end_;
        next_ = end_;
    }
}

ArrayView::const_iterator &ArrayView::const_iterator::operator++()
{
    pos_ = next_;
    if (pos_ != end_)
        read();
    return *this;
}

size_t ArrayView::size() const
{
    size_t n = 0;
    for (auto it = begin(); it != end(); ++it)
        ++n;
    return n;
}

// --- describe -----------------------------------------------------------------------------------------------------

namespace {

void describeInto(std::string &out, const FieldValueView &v);

void describeTableInto(std::string &out, const TableView &t)
{
    out += '{';
    bool first = true;
    for (const TableEntryView &e : t) {
        if (!first)
            out += ", ";
        first = false;
        out += printable(e.key);
        out += ": ";
        describeInto(out, e.value);
    }
    out += '}';
}

void describeInto(std::string &out, const FieldValueView &v)
{
    char buf[64];
    const detail::FieldScalar &s = v.scalar();
    switch (v.type()) {
    case FieldType::Bool: out += s.bits ? "true" : "false"; return;
    case FieldType::Int8:
    case FieldType::Int16:
    case FieldType::Int32:
    case FieldType::Int64:
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(static_cast<int64_t>(s.bits)));
        break;
    case FieldType::UInt8:
    case FieldType::UInt16:
    case FieldType::UInt32: std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(s.bits)); break;
    case FieldType::Float: std::snprintf(buf, sizeof buf, "%.9gf", static_cast<double>(*s.asDouble())); break;
    case FieldType::Double: std::snprintf(buf, sizeof buf, "%.17g", *s.asDouble()); break;
    case FieldType::Decimal:
        std::snprintf(buf, sizeof buf, "decimal(%u, %d)", static_cast<unsigned>(s.asDecimal()->scale),
                      static_cast<int>(s.asDecimal()->value));
        break;
    case FieldType::Timestamp:
        std::snprintf(buf, sizeof buf, "timestamp(%llu)", static_cast<unsigned long long>(s.bits));
        break;
    case FieldType::LongString: out += '"' + printable(v.bytes()) + '"'; return;
    case FieldType::ByteArray: out += "x\"" + printable(v.bytes()) + '"'; return;
    case FieldType::Void: out += "void"; return;
    case FieldType::Table: describeTableInto(out, TableView(v.bytes())); return;
    case FieldType::Array: {
        out += '[';
        bool first = true;
        for (const FieldValueView &e : ArrayView(v.bytes())) {
            if (!first)
                out += ", ";
            first = false;
            describeInto(out, e);
        }
        out += ']';
        return;
    }
    }
    out += buf;
}

} // namespace

std::string describeTable(const TableView &table)
{
    std::string out;
    describeTableInto(out, table);
    return out;
}

std::string describeValue(const FieldValueView &value)
{
    std::string out;
    describeInto(out, value);
    return out;
}

// --- Owned values ----------------------------------------------------------------------------------------------------

FieldTable::FieldTable() = default;
FieldTable::FieldTable(const FieldTable &) = default;
FieldTable::FieldTable(FieldTable &&) noexcept = default;
FieldTable &FieldTable::operator=(const FieldTable &) = default;
FieldTable &FieldTable::operator=(FieldTable &&) noexcept = default;
FieldTable::~FieldTable() = default;

namespace {
void checkKey(const std::string &key)
{
    if (key.size() > 255)
        throw std::length_error("ferry::amqp::FieldTable: key longer than 255 octets");
}
} // namespace

FieldTable &FieldTable::add(std::string key, FieldValue value)
{
    checkKey(key);
    entries_.push_back(FieldTableEntry{std::move(key), std::move(value)});
    return *this;
}

FieldTable &FieldTable::set(std::string key, FieldValue value)
{
    for (FieldTableEntry &e : entries_) {
        if (e.key == key) {
            e.value = std::move(value);
            return *this;
        }
    }
    return add(std::move(key), std::move(value));
}

size_t FieldTable::remove(std::string_view key)
{
    size_t removed = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->key == key) {
            it = entries_.erase(it);
            ++removed;
        } else {
            ++it;
        }
    }
    return removed;
}

const FieldValue *FieldTable::find(std::string_view key) const
{
    for (const FieldTableEntry &e : entries_)
        if (e.key == key)
            return &e.value;
    return nullptr;
}

FieldValue *FieldTable::find(std::string_view key)
{
    for (FieldTableEntry &e : entries_)
        if (e.key == key)
            return &e.value;
    return nullptr;
}

size_t FieldTable::size() const { return entries_.size(); }
bool FieldTable::empty() const { return entries_.empty(); }
FieldTable::const_iterator FieldTable::begin() const { return entries_.begin(); }
FieldTable::const_iterator FieldTable::end() const { return entries_.end(); }
const FieldTableEntry &FieldTable::at(size_t i) const { return entries_.at(i); }

FieldTable FieldTable::fromView(const TableView &view)
{
    FieldTable t;
    for (const TableEntryView &e : view)
        t.entries_.push_back(FieldTableEntry{std::string(e.key), FieldValue::fromView(e.value)});
    return t;
}

std::string FieldTable::encodeEntries() const
{
    std::string out;
    out.reserve(encodedSize() - 4);
    for (const FieldTableEntry &e : entries_) {
        wire::append8(out, static_cast<uint8_t>(e.key.size()));
        out += e.key;
        e.value.appendTo(out);
    }
    return out;
}

void FieldTable::appendTo(std::string &out) const
{
    const size_t at = out.size();
    wire::append32(out, 0);
    for (const FieldTableEntry &e : entries_) {
        wire::append8(out, static_cast<uint8_t>(e.key.size()));
        out += e.key;
        e.value.appendTo(out);
    }
    wire::store32(&out[at], static_cast<uint32_t>(out.size() - at - 4));
}

size_t FieldTable::encodedSize() const
{
    size_t n = 4;
    for (const FieldTableEntry &e : entries_)
        n += 1 + e.key.size() + e.value.encodedSize();
    return n;
}

bool operator==(const FieldTable &a, const FieldTable &b) { return a.entries_ == b.entries_; }

bool operator==(const FieldTableEntry &a, const FieldTableEntry &b) { return a.key == b.key && a.value == b.value; }

namespace {
void checkLong(const std::string &s)
{
    if (s.size() > std::numeric_limits<uint32_t>::max())
        throw std::length_error("ferry::amqp::FieldValue: string longer than 4 GiB - 1");
}
uint64_t signExtend(int64_t v) { return static_cast<uint64_t>(v); }
} // namespace

FieldValue::FieldValue(bool b) : scalar_{FieldType::Bool, b ? 1u : 0u} {}

FieldValue::FieldValue(std::string s) : scalar_{FieldType::LongString, 0}, bytes_(std::move(s)) { checkLong(bytes_); }

FieldValue::FieldValue(FieldTable t) : scalar_{FieldType::Table, 0}, table_(std::move(t)) {}

FieldValue::FieldValue(FieldArray a) : scalar_{FieldType::Array, 0}, array_(std::move(a)) {}

FieldValue FieldValue::int8(int8_t v) { return FieldValue(FieldType::Int8, signExtend(v)); }
FieldValue FieldValue::uint8(uint8_t v) { return FieldValue(FieldType::UInt8, v); }
FieldValue FieldValue::int16(int16_t v) { return FieldValue(FieldType::Int16, signExtend(v)); }
FieldValue FieldValue::uint16(uint16_t v) { return FieldValue(FieldType::UInt16, v); }
FieldValue FieldValue::int32(int32_t v) { return FieldValue(FieldType::Int32, signExtend(v)); }
FieldValue FieldValue::uint32(uint32_t v) { return FieldValue(FieldType::UInt32, v); }
FieldValue FieldValue::int64(int64_t v) { return FieldValue(FieldType::Int64, signExtend(v)); }
FieldValue FieldValue::float32(float v) { return FieldValue(FieldType::Float, wire::floatBits(v)); }
FieldValue FieldValue::float64(double v) { return FieldValue(FieldType::Double, wire::doubleBits(v)); }
FieldValue FieldValue::decimal(uint8_t scale, int32_t value)
{
    return FieldValue(FieldType::Decimal, (static_cast<uint64_t>(scale) << 32) | static_cast<uint32_t>(value));
}
FieldValue FieldValue::timestamp(uint64_t secondsSinceEpoch)
{
    return FieldValue(FieldType::Timestamp, secondsSinceEpoch);
}
FieldValue FieldValue::longString(std::string s) { return FieldValue(std::move(s)); }
FieldValue FieldValue::bytes(std::string b)
{
    FieldValue v(std::move(b));
    v.scalar_.type = FieldType::ByteArray;
    return v;
}

FieldValue FieldValue::fromView(const FieldValueView &view)
{
    FieldValue v;
    v.scalar_ = view.scalar();
    switch (view.type()) {
    case FieldType::LongString:
    case FieldType::ByteArray: v.bytes_ = std::string(view.bytes()); break;
    case FieldType::Table: v.table_ = FieldTable::fromView(TableView(view.bytes())); break;
    case FieldType::Array:
        for (const FieldValueView &e : ArrayView(view.bytes()))
            v.array_.push_back(fromView(e));
        break;
    default: break;
    }
    return v;
}

std::optional<std::string_view> FieldValue::asString() const
{
    if (scalar_.type == FieldType::LongString || scalar_.type == FieldType::ByteArray)
        return std::string_view(bytes_);
    return std::nullopt;
}

void FieldValue::appendTo(std::string &out) const
{
    const uint64_t b = scalar_.bits;
    out.push_back(static_cast<char>(scalar_.type));
    switch (scalar_.type) {
    case FieldType::Bool:
    case FieldType::Int8:
    case FieldType::UInt8: wire::append8(out, static_cast<uint8_t>(b)); break;
    case FieldType::Int16:
    case FieldType::UInt16: wire::append16(out, static_cast<uint16_t>(b)); break;
    case FieldType::Int32:
    case FieldType::UInt32:
    case FieldType::Float: wire::append32(out, static_cast<uint32_t>(b)); break;
    case FieldType::Int64:
    case FieldType::Double:
    case FieldType::Timestamp: wire::append64(out, b); break;
    case FieldType::Decimal:
        wire::append8(out, static_cast<uint8_t>(b >> 32));
        wire::append32(out, static_cast<uint32_t>(b));
        break;
    case FieldType::LongString:
    case FieldType::ByteArray:
        wire::append32(out, static_cast<uint32_t>(bytes_.size()));
        out += bytes_;
        break;
    case FieldType::Array: {
        const size_t at = out.size();
        wire::append32(out, 0);
        for (const FieldValue &e : array_)
            e.appendTo(out);
        wire::store32(&out[at], static_cast<uint32_t>(out.size() - at - 4));
        break;
    }
    case FieldType::Table: table_.appendTo(out); break;
    case FieldType::Void: break;
    }
}

size_t FieldValue::encodedSize() const
{
    switch (scalar_.type) {
    case FieldType::LongString:
    case FieldType::ByteArray: return 1 + 4 + bytes_.size();
    case FieldType::Array: {
        size_t n = 1 + 4;
        for (const FieldValue &e : array_)
            n += e.encodedSize();
        return n;
    }
    case FieldType::Table: return 1 + table_.encodedSize();
    default: return 1 + static_cast<size_t>(fixedSize(static_cast<char>(scalar_.type)));
    }
}

bool operator==(const FieldValue &a, const FieldValue &b)
{
    return a.scalar_.type == b.scalar_.type && a.scalar_.bits == b.scalar_.bits && a.bytes_ == b.bytes_ &&
           a.array_ == b.array_ && a.table_ == b.table_;
}

} // namespace ferry::amqp
