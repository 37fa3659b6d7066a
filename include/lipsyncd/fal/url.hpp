#pragma once
// URLs as the fal client needs them: parsing absolute http(s) URLs, and building the queue
// and storage URLs exactly as fal's official client (@fal-ai/client 1.10.1) builds them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lipsyncd::fal {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"

  bool is_https() const noexcept { return scheme == "https"; }
  bool is_loopback() const noexcept;
  // "https://host:port" with the port left out when it is the scheme's default.
  std::string origin() const;
  std::string path() const;   // target without the query
  std::string query() const;  // "?a=b" or ""
  std::string str() const { return origin() + target; }
  // The Host header value.
  std::string host_header() const;
};

// Parses "http(s)://host[:port][/path][?query]"; throws FalError (kind config) otherwise.
Url parse_url(std::string_view text);
// Resolves a redirect's Location (absolute, or absolute-path) against the URL it came from.
Url resolve_location(const Url& base, std::string_view location);

// "owner/alias[/path...]" (namespaces "workflows/" and "comfy/" kept in front).
struct EndpointId {
  std::string namespace_prefix;  // "" or "workflows/" / "comfy/"
  std::string owner;
  std::string alias;
  std::string path;  // "" or "v2", without a leading slash

  // "owner/alias" (with the namespace): what status, result and cancel URLs use.
  std::string app() const;
  // The whole id, path included: what the submit URL uses.
  std::string full() const;
};
EndpointId parse_endpoint_id(std::string_view id);

// queue_base is e.g. "https://queue.fal.run" (a trailing slash is ignored).
std::string submit_url(std::string_view queue_base, const EndpointId& endpoint);
std::string status_url(std::string_view queue_base, const EndpointId& endpoint,
                       std::string_view request_id, bool with_logs);
std::string status_stream_url(std::string_view queue_base, const EndpointId& endpoint,
                              std::string_view request_id, bool with_logs);
std::string result_url(std::string_view queue_base, const EndpointId& endpoint,
                       std::string_view request_id);
std::string cancel_url(std::string_view queue_base, const EndpointId& endpoint,
                       std::string_view request_id);
// rest_base is e.g. "https://rest.fal.ai".
std::string initiate_upload_url(std::string_view rest_base, bool multipart);
// Part N of a multipart upload: the number goes after the upload URL's path, its query kept.
std::string upload_part_url(std::string_view upload_url, int part_number);
std::string complete_upload_url(std::string_view upload_url);

// HTTPS proxy from https_proxy / HTTPS_PROXY, with no_proxy / NO_PROXY exceptions
// ("*", host names matching as suffixes, ".example.com", exact IPs, optional :port).
struct ProxySettings {
  std::string https_proxy;  // "http://host:port"; empty: no proxy
  std::string no_proxy;

  static ProxySettings from_environment();
  // The proxy to use for a connection to `target`, if any. Only https targets use a proxy
  // (CONNECT tunnel); plain HTTP is only ever spoken to loopback.
  std::optional<Url> proxy_for(const Url& target) const;
};

}  // namespace lipsyncd::fal
