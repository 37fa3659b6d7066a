// The retry taxonomy: what is retried, how long we wait, and what is never retried.

#include <gtest/gtest.h>

#include "lipsyncd/fal/error.hpp"
#include "lipsyncd/fal/retry_policy.hpp"

namespace lipsyncd::fal {
namespace {

using std::chrono::milliseconds;

FalError error_of(FalErrorKind kind, int status = 0,
                  std::optional<milliseconds> retry_after = std::nullopt) {
  return FalError({kind, status, "detail", retry_after}, "message");
}

TEST(FalRetryPolicy, NetworkTimeoutsAndTransientStatusesAreRetried) {
  const auto policy = RetryPolicy::standard();
  EXPECT_TRUE(policy.should_retry(error_of(FalErrorKind::network), 0));
  EXPECT_TRUE(policy.should_retry(error_of(FalErrorKind::timeout), 2));
  for (int status : {408, 429, 502, 503, 504}) {
    EXPECT_TRUE(policy.should_retry(error_of(FalErrorKind::http_transient, status), 0)) << status;
  }
  // 500 only for status polls, as the official client does.
  EXPECT_FALSE(policy.should_retry(error_of(FalErrorKind::http_transient, 500), 0));
  EXPECT_TRUE(RetryPolicy::status().should_retry(error_of(FalErrorKind::http_transient, 500), 0));
}

TEST(FalRetryPolicy, FinalErrorsAreNeverRetried) {
  const auto policy = RetryPolicy::status();
  for (auto kind : {FalErrorKind::http_final, FalErrorKind::auth, FalErrorKind::app_failure,
                    FalErrorKind::ambiguous_submit, FalErrorKind::tls, FalErrorKind::config}) {
    EXPECT_FALSE(policy.should_retry(error_of(kind, 400), 0)) << to_string(kind);
  }
}

TEST(FalRetryPolicy, StopsAfterMaxRetries) {
  EXPECT_TRUE(RetryPolicy::standard().should_retry(error_of(FalErrorKind::network), 2));
  EXPECT_FALSE(RetryPolicy::standard().should_retry(error_of(FalErrorKind::network), 3));
  EXPECT_TRUE(RetryPolicy::status().should_retry(error_of(FalErrorKind::network), 4));
  EXPECT_FALSE(RetryPolicy::status().should_retry(error_of(FalErrorKind::network), 5));
}

TEST(FalRetryPolicy, BackoffDoublesWithinQuarterJitterAndCaps) {
  const auto policy = RetryPolicy::standard();
  const auto error = error_of(FalErrorKind::network);
  const auto low = [] { return 0.0; };
  const auto high = [] { return 0.999999; };
  const auto mid = [] { return 0.5; };
  EXPECT_EQ(policy.delay(0, error, mid), milliseconds(1000));
  EXPECT_EQ(policy.delay(1, error, mid), milliseconds(2000));
  EXPECT_EQ(policy.delay(3, error, mid), milliseconds(8000));
  EXPECT_EQ(policy.delay(0, error, low), milliseconds(750));
  EXPECT_NEAR(static_cast<double>(policy.delay(0, error, high).count()), 1250, 1);
  EXPECT_EQ(policy.delay(10, error, mid), milliseconds(30000));
  EXPECT_EQ(RetryPolicy::queue().delay(10, error, mid), milliseconds(60000));
}

TEST(FalRetryPolicy, RetryAfterIsHonouredAndScaled) {
  const auto policy = RetryPolicy::standard();
  const auto limited = error_of(FalErrorKind::http_transient, 429, milliseconds(7000));
  const auto mid = [] { return 0.5; };
  EXPECT_EQ(policy.delay(0, limited, mid), milliseconds(7000));
  EXPECT_EQ(policy.scaled(0.01).delay(0, limited, mid), milliseconds(70));
  // A Retry-After beyond what one call may wait surfaces instead of sleeping for hours.
  const auto far = error_of(FalErrorKind::http_transient, 429, milliseconds(3600 * 1000));
  EXPECT_FALSE(policy.should_retry(far, 0));
}

TEST(FalRetryPolicy, ParsesRetryAfterSecondsAndDates) {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // 2015-10-21 07:28:00Z
  EXPECT_EQ(parse_retry_after("3", now), milliseconds(3000));
  EXPECT_EQ(parse_retry_after(" 120 ", now), milliseconds(120000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now), milliseconds(10000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), milliseconds(0));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("", now));
}

TEST(FalRetryPolicy, ErrorKindsMapToReasonCodesAndPermanence) {
  EXPECT_EQ(error_of(FalErrorKind::ambiguous_submit).reason_code(), "fal_ambiguous_submit");
  EXPECT_TRUE(error_of(FalErrorKind::network).is_transient());
  EXPECT_TRUE(error_of(FalErrorKind::http_transient, 503).is_transient());
  EXPECT_FALSE(error_of(FalErrorKind::auth, 401).is_transient());
  EXPECT_FALSE(error_of(FalErrorKind::ambiguous_submit).is_transient());
}

}  // namespace
}  // namespace lipsyncd::fal
