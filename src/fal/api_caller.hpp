#pragma once
// Private to the fal module. How the client talks to fal: requests carry the headers fal's
// official client sends (the key only on API requests, never on signed or CDN URLs), go
// through the transport, are reported to the observer, and fail as FalErrors classified by
// their Operation. call() adds the operation's retries; send() is one exchange for callers
// that handle the answer themselves (downloads following redirects, the status stream).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http_transport.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/fal/client.hpp"
#include "lipsyncd/fal/operation.hpp"
#include "retry_loop.hpp"

namespace lipsyncd::fal::detail {

using Headers = std::vector<std::pair<std::string, std::string>>;

class ApiCaller {
 public:
  ApiCaller(boost::asio::any_io_executor executor, const FalConfig& config,
            const ClientOptions& options);
  ApiCaller(const ApiCaller&) = delete;
  ApiCaller& operator=(const ApiCaller&) = delete;

  void set_observer(std::shared_ptr<ClientObserver> observer) { observer_ = std::move(observer); }
  Clock& clock() { return *clock_; }
  RetryLoop& retries() { return retries_; }

  // An API request (queue or REST host): the key, JSON accept and content type, user agent.
  HttpRequest api_request(std::string method, const std::string& url,
                          std::optional<std::string> body = {}) const;
  // A request to a signed or public URL: no key ever, only `headers` and the user agent.
  HttpRequest keyless_request(std::string method, const std::string& url, Headers headers) const;
  HttpRequest keyless_request(std::string method, Url url, Headers headers) const;

  // One call with the operation's retries; returns only 2xx answers.
  boost::asio::awaitable<HttpResponse> call(Operation operation, const HttpRequest& request);
  // One exchange, whatever the status; throws TransportError when no response arrived.
  boost::asio::awaitable<HttpResponse> send(Operation operation, const HttpRequest& request,
                                            SendOptions options = {});

  // The FalErrors for a non-2xx answer and for a broken exchange.
  static FalError refusal(Operation operation, const HttpResponse& response);
  static FalError broken(Operation operation, const TransportError& error);

  // Plain HTTP only to loopback (a local emulator): throws FalError (config) otherwise.
  static Url checked(Url url);

 private:
  TransportSettings transport_settings(const FalConfig& config, const ClientOptions& options);

  std::string credentials_;
  std::string user_agent_;
  std::shared_ptr<ClientObserver> observer_;
  std::shared_ptr<Clock> clock_;
  RetryLoop retries_;
  HttpTransport transport_;
};

}  // namespace lipsyncd::fal::detail
