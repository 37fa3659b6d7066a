#include "lipsyncd/fal/url.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "lipsyncd/fal/error.hpp"

namespace lipsyncd::fal {
namespace {

[[noreturn]] void bad_url(std::string_view text, std::string_view why) {
  throw FalError({FalErrorKind::config, 0, {}, {}},
                 "\"" + std::string(text) + "\" is not a usable URL: " + std::string(why),
                 "use an absolute http(s):// URL, e.g. https://queue.fal.run");
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim_trailing_slashes(std::string_view base) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base);
}

std::string queue_app_url(std::string_view base, const EndpointId& endpoint,
                          std::string_view suffix) {
  return trim_trailing_slashes(base) + "/" + endpoint.app() + std::string(suffix);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  std::string current;
  for (const char c : text) {
    if (c == ',' || c == ' ') {
      if (!current.empty()) items.push_back(lower(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) items.push_back(lower(current));
  return items;
}

}  // namespace

bool Url::is_loopback() const noexcept {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string Url::host_header() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  return default_port ? h : h + ":" + std::to_string(port);
}

std::string Url::origin() const {
  return scheme + "://" + host_header();
}

std::string Url::path() const {
  return target.substr(0, target.find('?'));
}

std::string Url::query() const {
  const auto q = target.find('?');
  return q == std::string::npos ? std::string() : target.substr(q);
}

Url parse_url(std::string_view text) {
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) bad_url(text, "no scheme");
  url.scheme = lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") bad_url(text, "only http and https");
  std::string_view rest = text.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view("/") : rest.substr(authority_end);
  if (const auto fragment = target.find('#'); fragment != std::string_view::npos) {
    target = target.substr(0, fragment);
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    bad_url(text, "user names in URLs are not supported");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad_url(text, "unclosed IPv6 bracket");
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') bad_url(text, "garbage after IPv6 address");
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.find(':');
    url.host = lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) bad_url(text, "no host");
  if (port_text.empty()) {
    url.port = url.scheme == "https" ? 443 : 80;
  } else {
    unsigned long port = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9') bad_url(text, "the port is not a number");
      port = port * 10 + static_cast<unsigned long>(c - '0');
      if (port > 65535) bad_url(text, "the port is out of range");
    }
    if (port == 0) bad_url(text, "port 0");
    url.port = static_cast<std::uint16_t>(port);
  }
  url.target = std::string(target);
  if (url.target.empty() || url.target.front() != '/') url.target = "/" + url.target;
  return url;
}

Url resolve_location(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return parse_url(location);
  if (location.rfind("//", 0) == 0) return parse_url(base.scheme + ":" + std::string(location));
  if (!location.empty() && location.front() == '/') {
    Url url = base;
    url.target = std::string(location);
    return url;
  }
  // A relative path: resolved against the base's directory.
  Url url = base;
  const std::string path = base.path();
  url.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  return url;
}

std::string EndpointId::app() const {
  return namespace_prefix + owner + "/" + alias;
}

std::string EndpointId::full() const {
  return path.empty() ? app() : app() + "/" + path;
}

EndpointId parse_endpoint_id(std::string_view id) {
  std::vector<std::string> parts;
  std::string current;
  for (const char c : id) {
    if (c == '/') {
      if (!current.empty()) parts.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) parts.push_back(current);
  EndpointId endpoint;
  std::size_t first = 0;
  if (!parts.empty() && (parts[0] == "workflows" || parts[0] == "comfy")) {
    endpoint.namespace_prefix = parts[0] + "/";
    first = 1;
  }
  if (parts.size() < first + 2) {
    throw FalError({FalErrorKind::config, 0, {}, {}},
                   "\"" + std::string(id) + "\" is not a fal endpoint id",
                   "use owner/alias[/path], e.g. fal-ai/sync-lipsync or fal-ai/sync-lipsync/v2");
  }
  endpoint.owner = parts[first];
  endpoint.alias = parts[first + 1];
  for (std::size_t i = first + 2; i < parts.size(); ++i) {
    if (!endpoint.path.empty()) endpoint.path += "/";
    endpoint.path += parts[i];
  }
  return endpoint;
}

std::string submit_url(std::string_view queue_base, const EndpointId& endpoint) {
  return trim_trailing_slashes(queue_base) + "/" + endpoint.full();
}

std::string status_url(std::string_view queue_base, const EndpointId& endpoint,
                       std::string_view request_id, bool with_logs) {
  return queue_app_url(
      queue_base, endpoint,
      "/requests/" + std::string(request_id) + "/status?logs=" + (with_logs ? "1" : "0"));
}

std::string status_stream_url(std::string_view queue_base, const EndpointId& endpoint,
                              std::string_view request_id, bool with_logs) {
  return queue_app_url(
      queue_base, endpoint,
      "/requests/" + std::string(request_id) + "/status/stream?logs=" + (with_logs ? "1" : "0"));
}

std::string result_url(std::string_view queue_base, const EndpointId& endpoint,
                       std::string_view request_id) {
  return queue_app_url(queue_base, endpoint, "/requests/" + std::string(request_id));
}

std::string cancel_url(std::string_view queue_base, const EndpointId& endpoint,
                       std::string_view request_id) {
  return queue_app_url(queue_base, endpoint, "/requests/" + std::string(request_id) + "/cancel");
}

std::string initiate_upload_url(std::string_view rest_base, bool multipart) {
  return trim_trailing_slashes(rest_base) +
         (multipart ? "/storage/upload/initiate-multipart?storage_type=fal-cdn-v3"
                    : "/storage/upload/initiate?storage_type=fal-cdn-v3");
}

std::string upload_part_url(std::string_view upload_url, int part_number) {
  const Url url = parse_url(upload_url);
  return url.origin() + url.path() + "/" + std::to_string(part_number) + url.query();
}

std::string complete_upload_url(std::string_view upload_url) {
  const Url url = parse_url(upload_url);
  return url.origin() + url.path() + "/complete" + url.query();
}

ProxySettings ProxySettings::from_environment() {
  const auto get = [](const char* a, const char* b) {
    const char* value = std::getenv(a);
    if (value == nullptr || *value == '\0') value = std::getenv(b);
    return std::string(value == nullptr ? "" : value);
  };
  return ProxySettings{get("https_proxy", "HTTPS_PROXY"), get("no_proxy", "NO_PROXY")};
}

std::optional<Url> ProxySettings::proxy_for(const Url& target) const {
  if (https_proxy.empty() || !target.is_https()) return std::nullopt;
  for (const auto& entry : split_list(no_proxy)) {
    if (entry == "*") return std::nullopt;
    std::string pattern = entry;
    std::optional<std::uint16_t> port;
    // "host:port" (but not a bare IPv6 address).
    if (const auto colon = pattern.rfind(':');
        colon != std::string::npos && pattern.find(':') == colon) {
      port = static_cast<std::uint16_t>(std::atoi(pattern.c_str() + colon + 1));
      pattern.resize(colon);
    }
    if (port && *port != target.port) continue;
    if (!pattern.empty() && pattern.front() == '.') pattern.erase(0, 1);
    if (target.host == pattern) return std::nullopt;
    if (target.host.size() > pattern.size() &&
        target.host.compare(target.host.size() - pattern.size(), pattern.size(), pattern) == 0 &&
        target.host[target.host.size() - pattern.size() - 1] == '.') {
      return std::nullopt;
    }
  }
  std::string proxy = https_proxy;
  if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
  return parse_url(proxy);
}

}  // namespace lipsyncd::fal
