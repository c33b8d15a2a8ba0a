// Fuzz target for the admin API's HTTP reading (broker/kernel/admin/HttpCodec): the input's first byte picks how
// the rest is cut into reads (as the network may deliver it); every complete request must have a target that
// parseTarget() splits the same way again, and every refusal must name an HTTP status. Any input must end in
// requests or a clean refusal, never a crash or a hang.
#include "admin/HttpCodec.h"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

using namespace ferry::admin;

namespace {

void check(bool ok)
{
    if (!ok)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const size_t chunk = 1 + data[0] % 64;
    ++data;
    --size;
    HttpRequestReader reader(4096, 2048);
    std::string pending;
    for (size_t at = 0; at < size;) {
        const size_t n = std::min(chunk, size - at);
        pending.append(reinterpret_cast<const char *>(data + at), n);
        at += n;
        for (;;) {
            std::optional<HttpRequest> request;
            const size_t used = reader.feed(reinterpret_cast<const uint8_t *>(pending.data()), pending.size(), &request);
            if (!reader.error().empty()) {
                const int status = reader.errorStatus();
                check(status == 400 || status == 413 || status == 431);
                return 0;
            }
            check(used <= pending.size());
            pending.erase(0, used);
            if (!request)
                break;
            std::vector<std::string> path;
            std::map<std::string, std::string> query;
            check(parseTarget(request->target, &path, &query));
            check(path == request->path && query == request->query);
            check(request->body.size() <= 4096);
            check(!serializeResponse(HttpResponse{}, request->keepAlive).empty());
        }
    }
    // The raw bytes as a target: accepted or refused, never a crash.
    std::vector<std::string> path;
    std::map<std::string, std::string> query;
    parseTarget(std::string(reinterpret_cast<const char *>(data), size), &path, &query);
    return 0;
}
