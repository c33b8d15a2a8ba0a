#include "admin/HttpCodec.h"

#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace ferry::admin {

namespace http = boost::beast::http;

std::string HttpRequest::header(const std::string &lowerName) const
{
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
}

namespace {

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool percentDecode(std::string_view in, bool plusIsSpace, std::string *out)
{
    out->clear();
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size())
                return false;
            const int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            out->push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plusIsSpace) {
            out->push_back(' ');
        } else {
            out->push_back(c);
        }
    }
    return true;
}

} // namespace

bool parseTarget(const std::string &target, std::vector<std::string> *path, std::map<std::string, std::string> *query)
{
    path->clear();
    query->clear();
    if (target.empty() || target[0] != '/')
        return false;
    const size_t q = target.find('?');
    const std::string_view p = std::string_view(target).substr(0, q);
    for (size_t at = 1; at <= p.size();) {
        const size_t slash = std::min(p.find('/', at), p.size());
        std::string segment;
        if (!percentDecode(p.substr(at, slash - at), false, &segment))
            return false;
        if (!(segment.empty() && slash == p.size())) // a trailing '/' adds no segment
            path->push_back(std::move(segment));
        at = slash + 1;
    }
    if (q == std::string::npos)
        return true;
    const std::string_view qs = std::string_view(target).substr(q + 1);
    for (size_t at = 0; at < qs.size();) {
        const size_t amp = std::min(qs.find('&', at), qs.size());
        const std::string_view pair = qs.substr(at, amp - at);
        const size_t eq = pair.find('=');
        std::string key, value;
        if (!percentDecode(pair.substr(0, eq), true, &key) ||
            (eq != std::string_view::npos && !percentDecode(pair.substr(eq + 1), true, &value)))
            return false;
        if (!key.empty())
            (*query)[key] = value;
        at = amp + 1;
    }
    return true;
}

struct HttpRequestReader::Impl {
    std::optional<http::request_parser<http::string_body>> parser;
};

HttpRequestReader::HttpRequestReader(size_t maxBodyBytes, size_t maxHeaderBytes)
    : impl_(std::make_unique<Impl>()), maxBodyBytes_(maxBodyBytes), maxHeaderBytes_(maxHeaderBytes)
{
}

HttpRequestReader::~HttpRequestReader() = default;

size_t HttpRequestReader::feed(const uint8_t *data, size_t len, std::optional<HttpRequest> *out)
{
    out->reset();
    if (!impl_->parser) {
        impl_->parser.emplace();
        impl_->parser->header_limit(static_cast<std::uint32_t>(maxHeaderBytes_));
        impl_->parser->body_limit(maxBodyBytes_);
        impl_->parser->eager(true);
    }
    auto &parser = *impl_->parser;
    size_t used = 0;
    while (used < len && !parser.is_done()) {
        // Boost 1.74's parser asserts (debug builds) when it is re-entered after a final chunk line with exactly
        // one more byte ("0\r\n" then "\r"); the code past the assert is right and upstream relaxed it
        // (boostorg/beast#2861). A chunked body can only end after at least five unconsumed bytes ("0\r\n\r\n"),
        // so holding back until five are pending never delays a request.
        if (parser.is_header_done() && parser.chunked() && len - used < 5)
            break;
        boost::beast::error_code ec;
        const size_t n = parser.put(boost::asio::const_buffer(data + used, len - used), ec);
        used += n;
        if (ec == http::error::need_more)
            break;
        if (ec) {
            error_ = ec.message();
            errorStatus_ = ec == http::error::body_limit ? 413 : ec == http::error::header_limit ? 431 : 400;
            return 0;
        }
        if (n == 0)
            break;
    }
    if (!parser.is_done())
        return used;
    http::request<http::string_body> message = parser.release();
    impl_->parser.reset();
    HttpRequest r;
    r.method = std::string(message.method_string());
    r.target = std::string(message.target());
    if (!parseTarget(r.target, &r.path, &r.query)) {
        error_ = "malformed request target '" + r.target + "'";
        errorStatus_ = 400;
        return 0;
    }
    for (const auto &field : message) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        r.headers[name] = std::string(field.value());
    }
    r.keepAlive = message.keep_alive();
    r.body = std::move(message.body());
    *out = std::move(r);
    return used;
}

std::string serializeResponse(const HttpResponse &response, bool keepAlive)
{
    http::response<http::string_body> message{static_cast<http::status>(response.status), 11};
    message.set(http::field::server, "Ferry");
    message.set(http::field::content_type, response.contentType);
    for (const auto &[name, value] : response.headers)
        message.set(name, value);
    message.keep_alive(keepAlive);
    message.body() = response.body;
    message.prepare_payload();
    std::ostringstream os;
    os << message;
    return os.str();
}

} // namespace ferry::admin
