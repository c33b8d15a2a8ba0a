#include "codec/Methods.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ferry::amqp {

namespace {

constexpr uint32_t keyOf(uint16_t classId, uint16_t methodId)
{
    return (static_cast<uint32_t>(classId) << 16) | methodId;
}

using Decoder = bool (*)(std::string_view args, Method &out, Error &error);

template <class M> bool decodeAs(std::string_view args, Method &out, Error &error)
{
    M &m = out.emplace<M>();
    detail::ArgumentReader reader(args);
    M::fields(m, reader);
    if (!reader.ok()) {
        error = makeError(reply::kSyntaxError,
                          std::string("cannot decode ") + M::kName + ": field '" + reader.failedField() + "': " +
                              reader.reason(),
                          M::kClassId, M::kMethodId);
        return false;
    }
    if (reader.left() != 0) {
        error = makeError(reply::kSyntaxError,
                          std::string("cannot decode ") + M::kName + ": " + std::to_string(reader.left()) +
                              " unexpected octets after the arguments",
                          M::kClassId, M::kMethodId);
        return false;
    }
    return true;
}

struct Entry {
    uint32_t key;
    MethodInfo info;
    Decoder decode;
};

template <class M> constexpr Entry entryFor()
{
    return Entry{keyOf(M::kClassId, M::kMethodId),
                 MethodInfo{M::kClassId, M::kMethodId, M::kName, M::kHasContent, M::kSynchronous,
                            M::kAcceptedByServer, M::kAcceptedByClient},
                 &decodeAs<M>};
}

template <size_t... I> constexpr std::array<Entry, sizeof...(I)> makeTable(std::index_sequence<I...>)
{
    return {{entryFor<std::variant_alternative_t<I, Method>>()...}};
}

// Indexed like the variant's alternatives, and therefore sorted by key (checked below).
constexpr std::array<Entry, std::variant_size_v<Method>> kTable =
    makeTable(std::make_index_sequence<std::variant_size_v<Method>>{});

constexpr bool sortedByKey()
{
    for (size_t i = 1; i < kTable.size(); ++i)
        if (!(kTable[i - 1].key < kTable[i].key))
            return false;
    return true;
}
static_assert(sortedByKey(), "MethodStructs.h must list the methods by class id, then method id");
static_assert(kTable.size() == kMethodCount);

const Entry *find(uint16_t classId, uint16_t methodId)
{
    const uint32_t key = keyOf(classId, methodId);
    const auto it = std::lower_bound(kTable.begin(), kTable.end(), key,
                                     [](const Entry &e, uint32_t k) { return e.key < k; });
    return it != kTable.end() && it->key == key ? &*it : nullptr;
}

} // namespace

const MethodInfo *methodInfo(uint16_t classId, uint16_t methodId)
{
    const Entry *e = find(classId, methodId);
    return e ? &e->info : nullptr;
}

const MethodInfo &methodInfo(const Method &method) { return kTable[method.index()].info; }

bool peekMethodId(std::string_view payload, uint16_t &classId, uint16_t &methodId)
{
    if (payload.size() < 4)
        return false;
    classId = wire::load16(payload.data());
    methodId = wire::load16(payload.data() + 2);
    return true;
}

bool decodeMethod(std::string_view payload, Method &out, Error &error)
{
    uint16_t classId = 0;
    uint16_t methodId = 0;
    if (!peekMethodId(payload, classId, methodId)) {
        error = makeError(reply::kFrameError, "method frame payload of " + std::to_string(payload.size()) +
                                                  " octets has no class and method id");
        return false;
    }
    const Entry *e = find(classId, methodId);
    if (!e) {
        error = makeError(reply::kNotImplemented,
                          "unknown method " + std::to_string(classId) + "/" + std::to_string(methodId), classId,
                          methodId);
        return false;
    }
    return e->decode(payload.substr(4), out, error);
}

bool appendMethodFrame(std::string &out, uint16_t channel, const Method &method)
{
    return std::visit([&](const auto &m) { return appendMethodFrame(out, channel, m); }, method);
}

bool appendMethodPayload(std::string &out, const Method &method)
{
    return std::visit([&](const auto &m) { return appendMethodPayload(out, m); }, method);
}

std::string describeMethod(const Method &method)
{
    return std::visit([](const auto &m) { return describeMethod(m); }, method);
}

} // namespace ferry::amqp
