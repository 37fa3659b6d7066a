#include "lipsyncd/daemon/fal_metrics_observer.hpp"

#include <string>

namespace lipsyncd::daemon {

void FalMetricsObserver::on_bytes_sent(std::size_t bytes) {
  metrics_.uploaded_bytes.inc(static_cast<double>(bytes));
}

void FalMetricsObserver::on_bytes_received(std::size_t bytes) {
  metrics_.downloaded_bytes.inc(static_cast<double>(bytes));
}

void FalMetricsObserver::on_response(std::string_view operation, int http_status) {
  metrics_.fal_responses.with({std::string(operation), std::to_string(http_status)}).inc();
}

void FalMetricsObserver::on_retry(std::string_view operation, const fal::FalError& /*cause*/,
                                  std::chrono::milliseconds /*delay*/) {
  metrics_.fal_retries.with({std::string(operation)}).inc();
}

}  // namespace lipsyncd::daemon
