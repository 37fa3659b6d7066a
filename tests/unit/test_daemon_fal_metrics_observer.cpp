#include <gtest/gtest.h>

#include "lipsyncd/daemon/fal_metrics_observer.hpp"
#include "lipsyncd/fal/error.hpp"
#include "lipsyncd/observe/metrics_registry.hpp"

namespace lipsyncd::daemon {
namespace {

TEST(FalMetricsObserver, CountsTrafficResponsesAndRetries) {
  observe::MetricsRegistry registry;
  observe::DaemonMetrics metrics(registry);
  FalMetricsObserver observer(metrics);

  observer.on_bytes_sent(1000);
  observer.on_bytes_sent(24);
  observer.on_bytes_received(4096);
  observer.on_response("submit", 200);
  observer.on_response("status", 503);
  observer.on_response("status", 503);
  fal::FalErrorDetails details;
  details.kind = fal::FalErrorKind::http_transient;
  details.http_status = 503;
  const fal::FalError cause(details, "fal is busy");
  observer.on_retry("status", cause, std::chrono::milliseconds(500));

  const std::string text = registry.render();
  EXPECT_NE(text.find("lipsyncd_uploaded_bytes_total 1024"), std::string::npos) << text;
  EXPECT_NE(text.find("lipsyncd_downloaded_bytes_total 4096"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(lipsyncd_fal_http_responses_total{operation="submit",code="200"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(lipsyncd_fal_http_responses_total{operation="status",code="503"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(lipsyncd_fal_retries_total{operation="status"} 1)"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace lipsyncd::daemon
