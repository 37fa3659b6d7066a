#pragma once
// Counts the fal client's traffic, responses and retries in the daemon's metrics. It lives in
// the daemon because fal and observe do not depend on each other.

#include "lipsyncd/fal/observer.hpp"
#include "lipsyncd/observe/daemon_metrics.hpp"

namespace lipsyncd::daemon {

class FalMetricsObserver final : public fal::ClientObserver {
 public:
  explicit FalMetricsObserver(observe::DaemonMetrics& metrics) : metrics_(metrics) {}
  void on_bytes_sent(std::size_t bytes) override;
  void on_bytes_received(std::size_t bytes) override;
  void on_response(std::string_view operation, int http_status) override;
  void on_retry(std::string_view operation, const fal::FalError& cause,
                std::chrono::milliseconds delay) override;

 private:
  observe::DaemonMetrics& metrics_;
};

}  // namespace lipsyncd::daemon
