#pragma once
// Private to the fal module. HTTP/1.1 exchanges over plain TCP (loopback only) or TLS, with
// an HTTPS CONNECT proxy when configured, per-step timeouts, and idle keep-alive connections
// reused per origin. Bodies stream from a file descriptor and into a sink in fixed-size
// chunks, so memory stays constant whatever the file size. Beast lives only in the .cpp.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "lipsyncd/fal/operation.hpp"
#include "lipsyncd/fal/url.hpp"

namespace lipsyncd::fal::detail {

struct TransportSettings {
  std::filesystem::path extra_ca_file;  // on top of the system store
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds io_timeout{60000};  // one read or write without progress
  ProxySettings proxy;
  std::size_t buffer_size = 1024 * 1024;
  std::function<void(std::size_t)> on_bytes_sent;
  std::function<void(std::size_t)> on_bytes_received;
};

// A body sent from a file: `length` bytes from `offset`. The fd stays owned by the caller.
struct FileBody {
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", "PUT"
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;  // Host and Content-Length added
  std::optional<std::string> body;                           // a JSON or text body
  std::optional<FileBody> file_body;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;  // the body, unless it went to the sink (2xx with a sink)
  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct SendOptions {
  bool fresh_connection = false;  // never reuse an idle connection (submit)
  // Receives 2xx bodies chunk by chunk instead of HttpResponse::body.
  std::function<void(std::string_view)> body_sink;
  std::size_t max_body_in_memory = 16 * 1024 * 1024;
};

class TransportError : public std::runtime_error {
 public:
  using Stage = BrokenAt;  // where it broke decides whether a submit may have reached fal
  TransportError(Stage failed_stage, std::error_code error_code, bool was_timeout, std::string what)
      : std::runtime_error(std::move(what)),
        stage(failed_stage),
        code(error_code),
        timed_out(was_timeout) {}
  Stage stage;
  std::error_code code;
  bool timed_out;
  bool response_started = false;  // a response header had arrived
};

class HttpTransport {
 public:
  HttpTransport(boost::asio::any_io_executor executor, TransportSettings settings);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // One request and its whole response. Throws TransportError when no complete response
  // arrived; HTTP error statuses are returned, not thrown.
  boost::asio::awaitable<HttpResponse> send(const HttpRequest& request, SendOptions options = {});

  std::size_t idle_connections() const;

 private:
  struct Connection;
  boost::asio::awaitable<std::unique_ptr<Connection>> open(const Url& url);
  boost::asio::awaitable<HttpResponse> exchange(Connection& connection, const HttpRequest& request,
                                                const SendOptions& options);

  boost::asio::any_io_executor executor_;
  TransportSettings settings_;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace lipsyncd::fal::detail
