// A minimal blocking HTTP/1.1 client over TCP, enough for voxactl and the registry plugin's member role to speak
// the api plugin's REST API: one request per connection (`Connection: close`), GET/POST with an optional JSON
// body, responses framed by Content-Length, by chunked transfer coding, or by the server closing the connection. No TLS, no redirects, no keep-alive: the
// API listens on loopback (or inside a node's namespace) and voxactl makes a handful of calls per run.
//
// Every wait (connect, send, each read) is bounded by the request's timeout, so a hung server cannot hang the
// operator's shell. Errors come back as text saying which step failed ("cannot connect: Connection refused"; the
// caller adds the URL), never as exceptions. No shared state: any thread may call perform(), concurrently.
//
// Library `voxa_http` (controlplane/http/), included as "http/http_client.h". Namespace voxa::http; voxactl's
// code names the same things through the voxa::ctl aliases at the end.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace voxa::http {

// An http://host:port[/base] address. Host may be a name, an IPv4 literal or a bracketed IPv6 literal.
struct Url {
    std::string host;      // without brackets
    uint16_t port = 80;
    std::string base;      // path prefix without a trailing slash ("" for none)
    std::string text() const;   // "http://host:port" + base, brackets restored for IPv6
};

// Parses "http://host[:port][/base]" (also "host:port" without a scheme). nullopt with *error on anything else
// (https is refused with a message: the API speaks plain HTTP).
std::optional<Url> parse_url(std::string_view text, std::string* error);

struct Response {
    int status = 0;                                   // e.g. 200
    std::string reason;                               // e.g. "OK"
    std::map<std::string, std::string> headers;       // names lower-cased; a repeated header keeps the last value
    std::string body;                                 // de-chunked
    std::string header(const std::string& lower_name) const;
};

struct Request {
    std::string method = "GET";
    std::string path = "/";                    // appended to the Url's base
    std::string body;                          // sent with Content-Type: application/json when method != GET
    std::string bearer_token;                  // "" = no Authorization header
    int timeout_ms = 10000;                    // bounds the whole exchange
    std::size_t body_max_bytes = 64u << 20;    // a bigger response is an error
};

// Performs one exchange. Returns the response (any status, including 4xx/5xx), or nullopt with *error saying
// which step failed. Never throws.
std::optional<Response> perform(const Url& url, const Request& request, std::string* error);

// Decodes a chunked body (RFC 9112 §7.1; extensions and trailers ignored). nullopt when malformed or truncated.
// Exposed for tests.
std::optional<std::string> decode_chunked(std::string_view raw);

}  // namespace voxa::http

namespace voxa::ctl {
using http::decode_chunked;
using http::parse_url;
using http::perform;
using http::Request;
using http::Response;
using http::Url;
}  // namespace voxa::ctl
