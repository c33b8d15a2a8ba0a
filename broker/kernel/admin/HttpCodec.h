// HttpCodec: HTTP/1.1 for the admin API, sans-I/O, on Boost.Beast's parser and serializer (no parser of our own).
// The admin session feeds it the bytes the kernel's NetworkServer read and writes out what it returns.
// Threading: one reader per connection, used on that connection's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::admin {

struct HttpRequest {
    std::string method;                            // "GET", "PUT", ...
    std::string target;                            // as sent: "/api/v1/queues/%2F/q?columns=name"
    std::vector<std::string> path;                 // the path's segments, percent-decoded: {"api","v1","queues","/","q"}
    std::map<std::string, std::string> query;      // percent-decoded query parameters
    std::map<std::string, std::string> headers;    // lower-case names
    std::string body;
    bool keepAlive = true;

    std::string header(const std::string &lowerName) const;
};

struct HttpResponse {
    int status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; // extra headers
};

// Splits a request target into percent-decoded path segments and query parameters. false for a target that is not
// an absolute path or has a bad escape.
bool parseTarget(const std::string &target, std::vector<std::string> *path, std::map<std::string, std::string> *query);

class HttpRequestReader {
public:
    explicit HttpRequestReader(size_t maxBodyBytes, size_t maxHeaderBytes = 16 * 1024);
    ~HttpRequestReader();
    HttpRequestReader(const HttpRequestReader &) = delete;
    HttpRequestReader &operator=(const HttpRequestReader &) = delete;

    // Consumes bytes; returns how many were used (the rest belongs to a later call, after the returned request).
    // *out gets a request once one is complete. On a malformed or oversized request it returns 0 with error() set
    // and errorStatus() the HTTP status to answer (400, 413, 431) before closing.
    size_t feed(const uint8_t *data, size_t len, std::optional<HttpRequest> *out);
    const std::string &error() const { return error_; }
    int errorStatus() const { return errorStatus_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    size_t maxBodyBytes_, maxHeaderBytes_;
    std::string error_;
    int errorStatus_ = 0;
};

// The whole response, status line to body, with Content-Length, Content-Type and Connection.
std::string serializeResponse(const HttpResponse &response, bool keepAlive);

} // namespace ferry::admin
