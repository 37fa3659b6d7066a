#include "http_transport.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstring>
#include <limits>

#include "lipsyncd/fal/error.hpp"

namespace lipsyncd::fal::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Idle connections kept per origin; more than the daemon's concurrency gains nothing.
constexpr std::size_t kMaxIdlePerOrigin = 4;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

[[noreturn]] void fail(TransportError::Stage stage, const boost::system::error_code& ec,
                       const std::string& what, bool response_started = false) {
  const bool timed_out = ec == beast::error::timeout;
  TransportError error(stage, std::error_code(ec.value(), ec.category()), timed_out,
                       what + ": " + (timed_out ? std::string("timed out") : ec.message()));
  error.response_started = response_started;
  throw error;
}

std::string origin_key(const Url& url) {
  return url.scheme + "://" + url.host + ":" + std::to_string(url.port);
}

}  // namespace

struct HttpTransport::TlsContext {
  ssl::context context{ssl::context::tls_client};
};

struct HttpTransport::Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool reused = false;
  bool keep_alive = false;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

HttpTransport::HttpTransport(asio::any_io_executor executor, TransportSettings settings)
    : executor_(std::move(executor)),
      settings_(std::move(settings)),
      tls_(std::make_unique<TlsContext>()) {
  auto& context = tls_->context;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  context.set_default_verify_paths();
  if (!settings_.extra_ca_file.empty()) {
    boost::system::error_code ec;
    context.load_verify_file(settings_.extra_ca_file.string(), ec);
    if (ec) {
      throw FalError(
          {FalErrorKind::config, 0, {}, {}},
          "cannot load the CA file " + settings_.extra_ca_file.string() + ": " + ec.message(),
          "[fal] ca_file / --ca-file must name a PEM file with CA certificates");
    }
  }
  context.set_verify_mode(ssl::verify_peer);
}

HttpTransport::~HttpTransport() = default;

std::size_t HttpTransport::idle_connections() const {
  std::size_t count = 0;
  for (const auto& [key, connections] : idle_) count += connections.size();
  return count;
}

asio::awaitable<std::unique_ptr<HttpTransport::Connection>> HttpTransport::open(const Url& url) {
  using Stage = TransportError::Stage;
  const auto proxy = settings_.proxy.proxy_for(url);
  const Url& hop = proxy ? *proxy : url;

  tcp::resolver resolver(executor_);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(hop.host, std::to_string(hop.port), use_tuple);
  if (resolve_error) fail(Stage::connect, resolve_error, "cannot resolve " + hop.host);

  auto stream = std::make_unique<beast::tcp_stream>(executor_);
  stream->expires_after(settings_.connect_timeout);
  auto [connect_error, endpoint] = co_await stream->async_connect(endpoints, use_tuple);
  if (connect_error) fail(Stage::connect, connect_error, "cannot connect to " + hop.host_header());
  stream->socket().set_option(tcp::no_delay(true));

  if (proxy) {
    // An HTTPS CONNECT tunnel: the proxy sees only the host name, never the requests.
    const std::string authority = url.host_header().find(':') == std::string::npos
                                      ? url.host_header() + ":" + std::to_string(url.port)
                                      : url.host_header();
    http::request<http::empty_body> connect{http::verb::connect, authority, 11};
    connect.set(http::field::host, authority);
    auto [write_error, written] = co_await http::async_write(*stream, connect, use_tuple);
    if (write_error) fail(Stage::connect, write_error, "proxy " + hop.host_header());
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> reply;
    reply.skip(true);  // a CONNECT reply has no body: the tunnel starts right after it
    auto [read_error, read] = co_await http::async_read_header(*stream, buffer, reply, use_tuple);
    if (read_error) fail(Stage::connect, read_error, "proxy " + hop.host_header());
    if (reply.get().result_int() != 200) {
      throw TransportError(Stage::connect, std::make_error_code(std::errc::connection_refused),
                           false,
                           "proxy " + hop.host_header() + " refused CONNECT " + authority +
                               " with HTTP " + std::to_string(reply.get().result_int()));
    }
  }

  auto connection = std::make_unique<Connection>();
  if (!url.is_https()) {
    connection->plain = std::move(stream);
    co_return connection;
  }
  connection->tls =
      std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), tls_->context);
  auto& tls = *connection->tls;
  // SNI (SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to).
  if (!is_ip_literal(url.host) &&
      SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(url.host.c_str())) != 1) {
    fail(Stage::tls,
         boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                   asio::error::get_ssl_category()),
         "cannot set SNI for " + url.host);
  }
  tls.set_verify_callback(ssl::host_name_verification(url.host));
  beast::get_lowest_layer(tls).expires_after(settings_.connect_timeout);
  auto [handshake_error] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
  if (handshake_error) {
    // Certificate and protocol failures are TLS problems; a reset during the handshake is
    // an ordinary network failure and worth retrying.
    const bool is_tls = handshake_error.category() == asio::error::get_ssl_category();
    fail(is_tls ? Stage::tls : Stage::connect, handshake_error,
         "TLS handshake with " + url.host_header());
  }
  co_return connection;
}

namespace {

template <typename Stream>
asio::awaitable<void> write_request(Stream& stream, beast::tcp_stream& lowest,
                                    const HttpRequest& request, const TransportSettings& settings) {
  using Stage = TransportError::Stage;
  http::request<http::empty_body> head;
  head.method_string(request.method);
  head.target(request.url.target);
  head.version(11);
  head.set(http::field::host, request.url.host_header());
  for (const auto& [name, value] : request.headers) head.set(name, value);
  std::uint64_t length = 0;
  if (request.body) length = request.body->size();
  if (request.file_body) length = request.file_body->length;
  if (request.method != "GET") head.content_length(length);
  head.keep_alive(true);

  // The header first, then the body bytes straight onto the stream: a file is never held
  // in memory, only one buffer of it at a time.
  http::request_serializer<http::empty_body> serializer{head};
  lowest.expires_after(settings.io_timeout);
  auto [header_error, header_bytes] =
      co_await http::async_write_header(stream, serializer, use_tuple);
  if (header_error) fail(Stage::send, header_error, "sending the request");
  if (settings.on_bytes_sent) settings.on_bytes_sent(header_bytes);

  if (request.body && !request.body->empty()) {
    lowest.expires_after(settings.io_timeout);
    auto [body_error, body_bytes] =
        co_await asio::async_write(stream, asio::buffer(*request.body), use_tuple);
    if (body_error) fail(Stage::send, body_error, "sending the request body");
    if (settings.on_bytes_sent) settings.on_bytes_sent(body_bytes);
  }
  if (request.file_body) {
    std::vector<char> chunk(settings.buffer_size);
    std::uint64_t offset = request.file_body->offset;
    std::uint64_t remaining = request.file_body->length;
    while (remaining > 0) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, chunk.size()));
      const ssize_t got =
          ::pread(request.file_body->fd, chunk.data(), want, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        throw FalError({FalErrorKind::config, 0, {}, {}},
                       std::string("cannot read the file being uploaded: ") +
                           (got == 0 ? "it became shorter" : std::strerror(errno)),
                       "do not modify input files while lipsyncd uploads them");
      }
      lowest.expires_after(settings.io_timeout);
      auto [write_error, written] = co_await asio::async_write(
          stream, asio::buffer(chunk.data(), static_cast<std::size_t>(got)), use_tuple);
      if (write_error) fail(Stage::send, write_error, "sending the file");
      if (settings.on_bytes_sent) settings.on_bytes_sent(written);
      offset += static_cast<std::uint64_t>(got);
      remaining -= static_cast<std::uint64_t>(got);
    }
  }
}

template <typename Stream>
asio::awaitable<HttpResponse> read_response(Stream& stream, beast::tcp_stream& lowest,
                                            beast::flat_buffer& buffer, const SendOptions& options,
                                            const TransportSettings& settings, bool& keep_alive) {
  using Stage = TransportError::Stage;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  lowest.expires_after(settings.io_timeout);
  auto [header_error, header_bytes] =
      co_await http::async_read_header(stream, buffer, parser, use_tuple);
  if (header_error) fail(Stage::receive, header_error, "reading the response");
  if (settings.on_bytes_received) settings.on_bytes_received(header_bytes);

  HttpResponse response;
  response.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    response.headers[lower(field.name_string())] = std::string(field.value());
  }
  const bool to_sink = options.body_sink && response.status / 100 == 2;
  std::vector<char> chunk(to_sink ? settings.buffer_size : 64 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    lowest.expires_after(settings.io_timeout);
    // read_some, not read: an event stream must surface each event as it arrives.
    auto [read_error, read] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
    if (read_error == http::error::need_buffer) read_error = {};
    if (read_error) fail(Stage::receive, read_error, "reading the response body", true);
    if (settings.on_bytes_received) settings.on_bytes_received(read);
    const std::size_t got = chunk.size() - parser.get().body().size;
    if (got == 0) continue;
    if (to_sink) {
      options.body_sink(std::string_view(chunk.data(), got));
    } else {
      if (response.body.size() + got > options.max_body_in_memory) {
        throw TransportError(Stage::receive, std::make_error_code(std::errc::message_size), false,
                             "the response body is too large");
      }
      response.body.append(chunk.data(), got);
    }
  }
  keep_alive = parser.get().keep_alive();
  co_return response;
}

}  // namespace

asio::awaitable<HttpResponse> HttpTransport::exchange(Connection& connection,
                                                      const HttpRequest& request,
                                                      const SendOptions& options) {
  if (connection.tls) {
    co_await write_request(*connection.tls, connection.lowest(), request, settings_);
    co_return co_await read_response(*connection.tls, connection.lowest(), connection.buffer,
                                     options, settings_, connection.keep_alive);
  }
  co_await write_request(*connection.plain, connection.lowest(), request, settings_);
  co_return co_await read_response(*connection.plain, connection.lowest(), connection.buffer,
                                   options, settings_, connection.keep_alive);
}

asio::awaitable<HttpResponse> HttpTransport::send(const HttpRequest& request, SendOptions options) {
  const std::string key = origin_key(request.url);
  bool fresh = options.fresh_connection;
  for (int pass = 0;; ++pass) {
    std::unique_ptr<Connection> connection;
    auto& idle = idle_[key];
    if (!fresh && !idle.empty()) {
      connection = std::move(idle.back());
      idle.pop_back();
      connection->reused = true;
    } else {
      connection = co_await open(request.url);
    }
    bool stale = false;
    try {
      HttpResponse response = co_await exchange(*connection, request, options);
      if (connection->keep_alive && idle_[key].size() < kMaxIdlePerOrigin) {
        connection->lowest().expires_never();
        idle_[key].push_back(std::move(connection));
      }
      co_return response;
    } catch (const TransportError& error) {
      // A kept-alive connection the server closed while idle fails before any response:
      // open a fresh one once. Requests on fresh connections (every submit) never get here.
      stale = connection->reused && pass == 0 && !error.timed_out && !error.response_started;
      if (!stale) throw;
    }
    fresh = true;
  }
}

}  // namespace lipsyncd::fal::detail
