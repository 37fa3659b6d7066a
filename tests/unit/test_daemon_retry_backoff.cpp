#include <gtest/gtest.h>

#include "lipsyncd/daemon/retry_backoff.hpp"

namespace lipsyncd::daemon {
namespace {

TEST(DaemonRetryBackoff, DoublesFromTheBaseUpToTheMaximum) {
  DaemonConfig config;
  config.retry_base_s = 30;
  config.retry_max_s = 3600;
  EXPECT_EQ(retry_delay(1, config), std::chrono::seconds(30));
  EXPECT_EQ(retry_delay(2, config), std::chrono::seconds(60));
  EXPECT_EQ(retry_delay(4, config), std::chrono::seconds(240));
  EXPECT_EQ(retry_delay(8, config), std::chrono::seconds(3600));
  EXPECT_EQ(retry_delay(1000, config), std::chrono::seconds(3600));
}

TEST(DaemonRetryBackoff, MaxAttemptsBoundsRetries) {
  DaemonConfig config;
  config.max_attempts = 3;
  EXPECT_TRUE(may_retry(1, config));
  EXPECT_TRUE(may_retry(2, config));
  EXPECT_FALSE(may_retry(3, config));
}

}  // namespace
}  // namespace lipsyncd::daemon
