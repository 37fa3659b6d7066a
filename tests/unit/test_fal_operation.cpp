// Each fal operation's policy, pinned: its label, its wording, its retries, whether it is the
// submit, and how its failures are classified. The classification follows the Operation,
// never a string, so a renamed label cannot make a submit resendable or a 500 final.

#include <gtest/gtest.h>

#include <map>

#include "lipsyncd/fal/operation.hpp"

namespace lipsyncd::fal {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

struct Expected {
  std::string_view label;
  std::string_view wording;
  int max_retries;
  milliseconds max_delay;
  bool retries_500;
};

const std::map<Operation, Expected>& expected() {
  static const std::map<Operation, Expected> table = {
      {Operation::initiate_upload, {"initiate_upload", "the upload request", 3, 30000ms, false}},
      {Operation::upload, {"upload", "the file upload", 3, 30000ms, false}},
      {Operation::upload_part, {"upload_part", "the file upload", 3, 30000ms, false}},
      {Operation::complete_upload, {"complete_upload", "completing the upload", 3, 30000ms, false}},
      {Operation::submit, {"submit", "the submission", 3, 60000ms, false}},
      {Operation::status, {"status", "the status request", 5, 30000ms, true}},
      {Operation::result, {"result", "the result request", 3, 60000ms, false}},
      {Operation::cancel, {"cancel", "the cancellation", 3, 30000ms, false}},
      {Operation::download, {"download", "the download", 3, 30000ms, false}},
  };
  return table;
}

FalError refused(Operation operation, int status, std::string body = R"({"detail":"why"})",
                 std::string retry_after = {}, std::string timeout_type = {}) {
  return http_failure(operation,
                      {status, std::move(body), std::move(retry_after), std::move(timeout_type)});
}

TEST(FalOperation, EveryOperationHasItsLabelWordingAndRetryPolicy) {
  ASSERT_EQ(kAllOperations.size(), expected().size());
  for (const Operation operation : kAllOperations) {
    const Expected& want = expected().at(operation);
    EXPECT_EQ(to_string(operation), want.label);
    EXPECT_EQ(describe(operation), want.wording) << want.label;
    const RetryPolicy policy = retry_policy(operation);
    EXPECT_EQ(policy.max_retries, want.max_retries) << want.label;
    EXPECT_EQ(policy.max_delay, want.max_delay) << want.label;
    EXPECT_EQ(policy.base_delay, 1000ms) << want.label;
    EXPECT_EQ(policy.is_retryable_status(500), want.retries_500) << want.label;
    for (int status : {408, 429, 502, 503, 504}) {
      EXPECT_TRUE(policy.is_retryable_status(status)) << want.label << " " << status;
    }
  }
}

TEST(FalOperation, OnlyTheSubmitIsTheSubmitAndOnlyTheResultCarriesTheAppsFailure) {
  for (const Operation operation : kAllOperations) {
    EXPECT_EQ(is_submit(operation), operation == Operation::submit) << to_string(operation);
    EXPECT_EQ(refusal_is_the_apps_failure(operation), operation == Operation::result)
        << to_string(operation);
  }
}

TEST(FalOperation, ASubmitThatMayHaveReachedFalIsAmbiguousAndNeverRetried) {
  for (const BrokenAt stage : {BrokenAt::send, BrokenAt::receive}) {
    for (const bool timed_out : {false, true}) {
      const FalError error = transport_failure(Operation::submit, stage, timed_out, "reset");
      EXPECT_EQ(error.kind(), FalErrorKind::ambiguous_submit);
      EXPECT_FALSE(error.is_transient());
      EXPECT_FALSE(retry_policy(Operation::submit).should_retry(error, 0));
      EXPECT_NE(std::string(error.hint()).find("not resent"), std::string::npos);
    }
  }
  // Nothing reached fal: a submit is retried like any call.
  const FalError refused_connect =
      transport_failure(Operation::submit, BrokenAt::connect, false, "connection refused");
  EXPECT_EQ(refused_connect.kind(), FalErrorKind::network);
  EXPECT_TRUE(retry_policy(Operation::submit).should_retry(refused_connect, 0));
  EXPECT_EQ(transport_failure(Operation::submit, BrokenAt::connect, true, "slow").kind(),
            FalErrorKind::timeout);
}

TEST(FalOperation, BrokenExchangesOfOtherCallsAreRetriedTransientErrors) {
  for (const Operation operation : kAllOperations) {
    if (operation == Operation::submit) continue;
    for (const BrokenAt stage : {BrokenAt::connect, BrokenAt::send, BrokenAt::receive}) {
      const FalError dropped = transport_failure(operation, stage, false, "reset by peer");
      EXPECT_EQ(dropped.kind(), FalErrorKind::network) << to_string(operation);
      EXPECT_EQ(std::string(dropped.what()),
                std::string(describe(operation)) + " failed: reset by peer");
      EXPECT_TRUE(retry_policy(operation).should_retry(dropped, 0)) << to_string(operation);
      const FalError slow = transport_failure(operation, stage, true, "timed out");
      EXPECT_EQ(slow.kind(), FalErrorKind::timeout) << to_string(operation);
      EXPECT_TRUE(retry_policy(operation).should_retry(slow, 0)) << to_string(operation);
    }
    const FalError tls = transport_failure(operation, BrokenAt::tls, false, "bad certificate");
    EXPECT_EQ(tls.kind(), FalErrorKind::tls) << to_string(operation);
    EXPECT_FALSE(retry_policy(operation).should_retry(tls, 0)) << to_string(operation);
  }
}

TEST(FalOperation, AServerErrorIsTheModelFailingOnlyForTheResult) {
  for (const Operation operation : kAllOperations) {
    const FalError error = refused(operation, 500, R"({"detail":"No face detected"})");
    if (operation == Operation::result) {
      EXPECT_EQ(error.kind(), FalErrorKind::app_failure);
      EXPECT_NE(std::string(error.what()).find("No face detected"), std::string::npos);
    } else {
      EXPECT_EQ(error.kind(), FalErrorKind::http_transient) << to_string(operation);
      EXPECT_EQ(std::string(error.what()), "fal refused " + std::string(describe(operation)) +
                                               " (HTTP 500): No face detected");
    }
    // Only status polls retry a 500 (as the official client does).
    EXPECT_EQ(retry_policy(operation).should_retry(error, 0), operation == Operation::status)
        << to_string(operation);
  }
}

TEST(FalOperation, ClientErrorsAreFinalExceptTheResultsWhichAreTheAppsFailure) {
  for (const Operation operation : kAllOperations) {
    const FalError bad_request = refused(operation, 400);
    EXPECT_EQ(bad_request.kind(),
              operation == Operation::result ? FalErrorKind::app_failure : FalErrorKind::http_final)
        << to_string(operation);
    // 404 means an unknown request, never a model failure.
    EXPECT_EQ(refused(operation, 404).kind(), FalErrorKind::http_final) << to_string(operation);
    EXPECT_EQ(refused(operation, 401).kind(), FalErrorKind::auth) << to_string(operation);
    EXPECT_EQ(refused(operation, 403).reason_code(), "fal_forbidden") << to_string(operation);
    for (int status : {400, 401, 403, 404, 422}) {
      EXPECT_FALSE(retry_policy(operation).should_retry(refused(operation, status), 0))
          << to_string(operation) << " " << status;
    }
  }
  EXPECT_NE(refused(Operation::submit, 422).hint().find("fix the field"), std::string::npos);
}

TEST(FalOperation, BusyAnswersAreTransientAndCarryRetryAfter) {
  for (const Operation operation : kAllOperations) {
    for (int status : {408, 429, 502, 503, 504}) {
      const FalError error = refused(operation, status, "busy", "2");
      EXPECT_EQ(error.kind(), FalErrorKind::http_transient) << to_string(operation) << status;
      EXPECT_EQ(error.retry_after(), milliseconds(2000));
      EXPECT_TRUE(retry_policy(operation).should_retry(error, 0)) << to_string(operation);
    }
  }
}

TEST(FalOperation, AUserRequestTimeoutIsFinalForEveryOperation) {
  for (const Operation operation : kAllOperations) {
    const FalError error = refused(operation, 504, R"({"detail":"Request timed out"})", {}, "user");
    EXPECT_EQ(error.kind(), FalErrorKind::http_final) << to_string(operation);
    EXPECT_EQ(
        std::string(error.what()).rfind("fal gave up on " + std::string(describe(operation)), 0),
        0u);
    EXPECT_FALSE(retry_policy(operation).should_retry(error, 0));
  }
}

}  // namespace
}  // namespace lipsyncd::fal
