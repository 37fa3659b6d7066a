#pragma once
// Serves GET /metrics (Prometheus text) and GET /healthz on a loopback address, on the
// daemon's io_context. Beast stays in metrics_server.cpp; this header only forward-declares.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lipsyncd/observe/metrics_registry.hpp"

namespace boost::asio {
class io_context;
}

namespace lipsyncd::observe {

struct HealthStatus {
  bool ok = false;
  std::string detail{};  // e.g. "watcher live, store writable" or what is wrong
};
// Asked on the io_context's thread for each GET /healthz: keep it cheap and non-blocking.
using HealthCheck = std::function<HealthStatus()>;

struct ListenAddress {
  std::string host{};  // a loopback IP literal
  std::uint16_t port = 0;
};

// "127.0.0.1:9464", "[::1]:9464" or "localhost:9464" (port 0: any free port). Anything that
// is not a loopback address throws lipsyncd::Error ("bad_config"): metrics are not for the LAN.
ListenAddress parse_listen_address(std::string_view text);

class MetricsServer {
 public:
  MetricsServer(boost::asio::io_context& io, const MetricsRegistry& registry, HealthCheck health);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  // Binds and starts accepting; throws lipsyncd::Error ("metrics_listen_failed", transient)
  // when the address is taken. Connections are served while the io_context runs.
  void start(std::string_view listen);
  // Closes the listener and open connections (safe to call from any thread, and twice).
  void stop();
  // The bound port (useful with port 0); 0 before start().
  std::uint16_t port() const noexcept;

 private:
  struct Impl;
  class Session;  // one connection
  std::shared_ptr<Impl> impl_;
};

}  // namespace lipsyncd::observe
