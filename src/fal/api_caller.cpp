#include "api_caller.hpp"

#include <spdlog/spdlog.h>

#include "lipsyncd/core/version.hpp"

namespace lipsyncd::fal::detail {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

milliseconds to_ms(double seconds) {
  return milliseconds(static_cast<long long>(seconds * 1000));
}

}  // namespace

ApiCaller::ApiCaller(asio::any_io_executor executor, const FalConfig& config,
                     const ClientOptions& options)
    : credentials_(config.credentials),
      user_agent_(options.user_agent.empty() ? std::string("lipsyncd/") + kVersion
                                             : options.user_agent),
      clock_(options.clock ? options.clock : real_clock()),
      retries_(*clock_, options.retry_delay_scale,
               [this](Operation operation, const FalError& cause, milliseconds delay) {
                 if (observer_) observer_->on_retry(to_string(operation), cause, delay);
               }),
      transport_(std::move(executor), transport_settings(config, options)) {}

TransportSettings ApiCaller::transport_settings(const FalConfig& config,
                                                const ClientOptions& options) {
  TransportSettings settings;
  settings.extra_ca_file = config.ca_file;
  settings.connect_timeout = to_ms(config.connect_timeout_s);
  settings.io_timeout = to_ms(config.io_timeout_s);
  settings.proxy = options.proxy ? *options.proxy : ProxySettings::from_environment();
  settings.buffer_size = options.io_buffer_size;
  settings.on_bytes_sent = [this](std::size_t bytes) {
    if (observer_) observer_->on_bytes_sent(bytes);
  };
  settings.on_bytes_received = [this](std::size_t bytes) {
    if (observer_) observer_->on_bytes_received(bytes);
  };
  return settings;
}

HttpRequest ApiCaller::api_request(std::string method, const std::string& url,
                                   std::optional<std::string> body) const {
  HttpRequest request{std::move(method), checked(parse_url(url)), {}, std::move(body), {}};
  request.headers = {{"Authorization", "Key " + credentials_},
                     {"Accept", "application/json"},
                     {"Content-Type", "application/json"},
                     {"User-Agent", user_agent_}};
  return request;
}

HttpRequest ApiCaller::keyless_request(std::string method, const std::string& url,
                                       Headers headers) const {
  return keyless_request(std::move(method), parse_url(url), std::move(headers));
}

HttpRequest ApiCaller::keyless_request(std::string method, Url url, Headers headers) const {
  headers.emplace_back("Accept", "*/*");
  headers.emplace_back("User-Agent", user_agent_);
  return HttpRequest{std::move(method), checked(std::move(url)), std::move(headers), {}, {}};
}

asio::awaitable<HttpResponse> ApiCaller::call(Operation operation, const HttpRequest& request) {
  SendOptions options;
  // A stale kept-alive socket must never blur whether a submit reached fal.
  options.fresh_connection = is_submit(operation);
  co_return co_await retries_.run(operation, [&]() -> asio::awaitable<HttpResponse> {
    const auto started = clock_->now();
    HttpResponse response;
    try {
      response = co_await send(operation, request, options);
    } catch (const TransportError& error) {
      throw broken(operation, error);
    }
    spdlog::debug("fal: {} {}{} -> {} in {} ms", request.method, request.url.origin(),
                  request.url.path(), response.status,
                  std::chrono::duration_cast<milliseconds>(clock_->now() - started).count());
    if (response.status / 100 != 2) throw refusal(operation, response);
    co_return response;
  });
}

asio::awaitable<HttpResponse> ApiCaller::send(Operation operation, const HttpRequest& request,
                                              SendOptions options) {
  HttpResponse response = co_await transport_.send(request, std::move(options));
  if (observer_) observer_->on_response(to_string(operation), response.status);
  co_return response;
}

FalError ApiCaller::refusal(Operation operation, const HttpResponse& response) {
  return http_failure(operation, {response.status, response.body, response.header("retry-after"),
                                  response.header("x-fal-request-timeout-type")});
}

FalError ApiCaller::broken(Operation operation, const TransportError& error) {
  return transport_failure(operation, error.stage, error.timed_out, error.what());
}

Url ApiCaller::checked(Url url) {
  if (!url.is_https() && !url.is_loopback()) {
    throw FalError(
        {FalErrorKind::config, 0, {}, {}},
        "refusing plain HTTP to " + url.origin() + ": the key and files would travel unencrypted",
        "use https://, or plain http only for a local emulator on 127.0.0.1");
  }
  return url;
}

}  // namespace lipsyncd::fal::detail
