#include "download.hpp"

#include <spdlog/spdlog.h>

#include "lipsyncd/core/atomic_file.hpp"

namespace lipsyncd::fal::detail {

namespace asio = boost::asio;

namespace {

constexpr int kMaxRedirects = 5;

bool is_redirect(const HttpResponse& response) {
  return response.status >= 300 && response.status < 400 && !response.header("location").empty();
}

// Only https targets: plain HTTP stays confined to a loopback test setup.
Url redirect_target(const Url& from, const HttpResponse& response, int redirects) {
  if (redirects >= kMaxRedirects) {
    throw FalError({FalErrorKind::http_final, response.status, {}, {}},
                   "the download of " + from.origin() + from.path() + " redirected more than " +
                       std::to_string(kMaxRedirects) + " times",
                   "the file host is misconfigured");
  }
  const Url next = resolve_location(from, response.header("location"));
  if (!next.is_https() && !(from.is_loopback() && next.is_loopback())) {
    throw FalError({FalErrorKind::http_final, response.status, {}, {}},
                   "the download was redirected to a plain-HTTP URL (" + next.origin() + ")",
                   "only https redirects are followed");
  }
  return next;
}

}  // namespace

asio::awaitable<void> Download::fetch(std::string url, std::filesystem::path destination,
                                      std::optional<std::uint64_t> expected_size) {
  co_await api_.retries().run(Operation::download, [&]() -> asio::awaitable<void> {
    co_await attempt(url, destination, expected_size);
  });
}

asio::awaitable<void> Download::attempt(const std::string& url_text,
                                        const std::filesystem::path& destination,
                                        std::optional<std::uint64_t> expected_size) {
  Url url = ApiCaller::checked(parse_url(url_text));
  for (int redirects = 0;; ++redirects) {
    AtomicFile file(destination);
    std::uint64_t written = 0;
    SendOptions options;
    options.body_sink = [&](std::string_view chunk) {
      file.write(chunk);
      written += chunk.size();
    };
    const HttpRequest request = api_.keyless_request("GET", url, {});
    HttpResponse response;
    try {
      response = co_await api_.send(Operation::download, request, options);
    } catch (const TransportError& error) {
      throw ApiCaller::broken(Operation::download, error);
    }
    if (is_redirect(response)) {
      url = redirect_target(url, response, redirects);
      continue;
    }
    if (response.status / 100 != 2) throw ApiCaller::refusal(Operation::download, response);
    if (expected_size && written != *expected_size) {
      throw FalError({FalErrorKind::network, response.status, {}, {}},
                     "the download of " + destination.filename().string() +
                         " is incomplete: " + std::to_string(written) + " of " +
                         std::to_string(*expected_size) + " bytes",
                     "the connection broke off; retried");
    }
    file.commit();
    spdlog::debug("fal: downloaded {} bytes to {}", written, destination.string());
    co_return;
  }
}

}  // namespace lipsyncd::fal::detail
