#include "lipsyncd/observe/metrics_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::observe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A scrape is a few kilobytes; anything slow or large is not Prometheus and gets dropped.
constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 4 * 1024;

[[noreturn]] void bad_listen(std::string_view text, std::string_view why) {
  throw Error("bad_config", "[metrics] listen = \"" + std::string(text) + "\" " + std::string(why),
              "use a loopback address and port, e.g. \"127.0.0.1:9464\" or \"[::1]:9464\"");
}

}  // namespace

ListenAddress parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) bad_listen(text, "is not [address]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) bad_listen(text, "has no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  ListenAddress result;
  result.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535) {
    bad_listen(text, "has no valid port number");
  }
  result.port = static_cast<std::uint16_t>(value);
  boost::system::error_code parse_error;
  const auto address = asio::ip::make_address(result.host, parse_error);
  if (parse_error) bad_listen(text, "is not an IP address (or localhost)");
  if (!address.is_loopback()) bad_listen(text, "is not a loopback address");
  return result;
}

struct MetricsServer::Impl : std::enable_shared_from_this<MetricsServer::Impl> {
  Impl(asio::io_context& io_context, const MetricsRegistry& metrics, HealthCheck check)
      : io(io_context), registry(metrics), health(std::move(check)), acceptor(io_context) {}

  void accept();
  void on_accept(beast::error_code error, tcp::socket socket);
  http::response<http::string_body> respond(const http::request<http::string_body>& request);
  HealthStatus ask_health();
  void close_all();

  asio::io_context& io;
  const MetricsRegistry& registry;
  std::mutex health_mutex;  // stop() clears health while a session may be calling it
  HealthCheck health;
  tcp::acceptor acceptor;
  std::atomic<std::uint16_t> port{0};
  std::vector<std::weak_ptr<Session>> sessions;  // touched on the io thread only
};

// One connection: read a request, answer it, repeat while the client keeps it alive.
class MetricsServer::Session : public std::enable_shared_from_this<MetricsServer::Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<MetricsServer::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  void start() { read(); }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kIoTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_read(error);
                     });
  }

  void on_read(beast::error_code error) {
    if (error) return close();  // end of stream, timeout, garbage: nothing to answer
    const auto request = parser_->release();
    response_ = server_->respond(request);
    response_.keep_alive(request.keep_alive());
    response_.prepare_payload();
    stream_.expires_after(kIoTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code write_error, std::size_t) {
                        self->on_write(write_error);
                      });
  }

  void on_write(beast::error_code error) {
    if (error || !response_.keep_alive()) return close();
    read();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<MetricsServer::Impl> server_;
};

void MetricsServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code error, tcp::socket socket) {
    self->on_accept(error, std::move(socket));
  });
}

void MetricsServer::Impl::on_accept(beast::error_code error, tcp::socket socket) {
  if (error == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (!error) {
    std::erase_if(sessions, [](const auto& session) { return session.expired(); });
    auto session = std::make_shared<Session>(std::move(socket), shared_from_this());
    sessions.push_back(session);
    session->start();
  }
  // A failed accept (out of descriptors, say) must not end the server: keep listening.
  accept();
}

HealthStatus MetricsServer::Impl::ask_health() {
  std::lock_guard lock(health_mutex);
  if (!health) return {false, "shutting down"};
  try {
    return health();
  } catch (const std::exception& e) {
    return {false, std::string("health check failed: ") + e.what()};
  }
}

http::response<http::string_body> MetricsServer::Impl::respond(
    const http::request<http::string_body>& request) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.set(http::field::server, "lipsyncd");
  response.set(http::field::cache_control, "no-store");
  response.set(http::field::content_type, "text/plain; charset=utf-8");

  const auto target = std::string_view(request.target());
  const auto path = target.substr(0, target.find('?'));
  const bool head = request.method() == http::verb::head;
  if (request.method() != http::verb::get && !head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.body() = "only GET and HEAD\n";
  } else if (path == "/metrics") {
    response.result(http::status::ok);
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = registry.render();
  } else if (path == "/healthz") {
    const auto status = ask_health();
    response.result(status.ok ? http::status::ok : http::status::service_unavailable);
    response.body() = (status.ok ? "ok" : "unhealthy") +
                      (status.detail.empty() ? std::string() : ": " + status.detail) + "\n";
  } else {
    response.result(http::status::not_found);
    response.body() = "lipsyncd serves /metrics and /healthz\n";
  }
  if (head) {
    // Content-Length must still describe the GET body; then send none.
    response.content_length(response.body().size());
    response.body().clear();
  }
  return response;
}

void MetricsServer::Impl::close_all() {
  beast::error_code ignored;
  acceptor.close(ignored);
  for (const auto& weak : sessions) {
    if (auto session = weak.lock()) session->close();
  }
  sessions.clear();
}

MetricsServer::MetricsServer(asio::io_context& io, const MetricsRegistry& registry,
                             HealthCheck health)
    : impl_(std::make_shared<Impl>(io, registry, std::move(health))) {}

MetricsServer::~MetricsServer() {
  stop();
}

void MetricsServer::start(std::string_view listen) {
  const auto address = parse_listen_address(listen);
  const tcp::endpoint endpoint(asio::ip::make_address(address.host), address.port);
  beast::error_code error;
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    beast::error_code ignored;
    acceptor.close(ignored);
    throw Error("metrics_listen_failed",
                "cannot serve metrics on " + std::string(listen) + ": " + error.message(),
                "pick a free port for [metrics] listen, or leave it empty to turn metrics off",
                Permanence::transient);
  }
  impl_->port = acceptor.local_endpoint().port();
  impl_->accept();
}

void MetricsServer::stop() {
  {
    std::lock_guard lock(impl_->health_mutex);
    if (!impl_->health && impl_->port == 0) return;  // never started, or stopped already
    impl_->health = nullptr;
  }
  impl_->port = 0;
  // The acceptor and sessions belong to the io_context's thread: close them there.
  asio::post(impl_->io, [impl = impl_] { impl->close_all(); });
}

std::uint16_t MetricsServer::port() const noexcept {
  return impl_->port;
}

}  // namespace lipsyncd::observe
