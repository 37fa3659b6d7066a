// Fault matrix (ctest label `faults`): every fault the emulator can inject, at every stage a
// job talks to fal (storage upload, submit, status polls, result, download), through the real
// daemon. Each case ends as designed (delivered, failed with its reason, or held for a
// person), fal creates at most the one request the job needs, and every input is in exactly
// one place afterwards.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "daemon_test.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;

enum class Outcome { delivered, failed, held };

struct FaultCase {
  std::string name;
  std::string faults;  // emulator fault rules, see tests/fal_emulator/README.md
  Outcome outcome = Outcome::delivered;
  std::string reason_code = {};  // failed / held: the reason the user is given
  std::size_t requests_created = 1;
};

void PrintTo(const FaultCase& fault, std::ostream* out) {
  *out << fault.name;
}

constexpr const char* kSubmit = R"("method": "POST", "path": "^/fal-ai/sync-lipsync$")";
constexpr const char* kInitiate = R"("method": "POST", "path": "^/storage/upload/initiate$")";
constexpr const char* kPut = R"("method": "PUT", "path": "^/_storage/upload/.*$")";
constexpr const char* kStatus =
    R"("method": "GET", "path": "^/fal-ai/sync-lipsync/requests/[^/]+/status$")";
constexpr const char* kResult =
    R"("method": "GET", "path": "^/fal-ai/sync-lipsync/requests/[^/]+$")";
constexpr const char* kDownload = R"("method": "GET", "path": "^/files/.*$")";

std::string rule(const char* where, const std::string& what) {
  return std::string("{") + where + ", " + what + "}";
}

class FaultMatrixE2E : public DaemonTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(FaultMatrixE2E, EndsAsDesignedWithoutPayingTwiceOrLosingInputs) {
  const auto& fault = GetParam();
  emulator->set_faults(fault.faults);
  write_config();
  start_daemon();
  drop("real_talk_monalisa_720p.mp4", "f.mp4");
  drop("speech_1s.wav", "f.wav");

  switch (fault.outcome) {
    case Outcome::delivered: {
      ASSERT_TRUE(delivered("f", 120s)) << daemon->log();
      EXPECT_TRUE(
          eventually([&] { return places_of("f.wav") == std::set<std::string>{"done"}; }, 10s));
      EXPECT_EQ(places_of("f.mp4"), (std::set<std::string>{"done"}));
      EXPECT_FALSE(std::filesystem::exists(error() / "f.error.json"));
      break;
    }
    case Outcome::failed: {
      ASSERT_TRUE(rejected("f", 120s)) << daemon->log();
      const auto report = read_json(error() / "f.error.json");
      EXPECT_EQ(report.at("reason_code").as_string(), fault.reason_code) << daemon->log();
      EXPECT_FALSE(report.at("message").as_string().empty());
      ASSERT_TRUE(report.contains("request_id")) << "the user needs fal's request id";
      EXPECT_FALSE(report.at("request_id").as_string().empty());
      EXPECT_EQ(places_of("f.mp4"), (std::set<std::string>{"error"}));
      EXPECT_EQ(places_of("f.wav"), (std::set<std::string>{"error"}));
      EXPECT_TRUE(names_in(outbox()).empty());
      break;
    }
    case Outcome::held: {
      ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held"), 120s)) << daemon->log();
      const auto status = status_json();
      ASSERT_EQ(status.at("jobs").as_array().size(), 1u);
      const auto& job = status.at("jobs").as_array()[0].as_object();
      EXPECT_EQ(job.at("state").as_string(), "held");
      EXPECT_EQ(job.at("hold_reason").as_string(), fault.reason_code);
      // Kept in the spool for the person who decides, nowhere else.
      EXPECT_EQ(places_of("f.mp4").size(), 1u);
      EXPECT_EQ(places_of("f.wav").size(), 1u);
      EXPECT_TRUE(names_in(outbox()).empty());
      break;
    }
  }
  // A few pump rounds later nothing has been sent again.
  const auto submits = submissions();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(submissions(), submits) << "a finished or held job was submitted again";
  EXPECT_EQ(requests_created(), fault.requests_created) << "requests paid at fal";
  EXPECT_TRUE(daemon->running());
  stop_daemon();
}

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultMatrixE2E,
    ::testing::Values(
        // Storage upload
        FaultCase{"upload_initiate_429_retry_after",
                  rule(kInitiate, R"("action": "status", "status": 429, "retry_after": "1",
                                     "times": 2)")},
        FaultCase{"upload_initiate_503_burst",
                  rule(kInitiate, R"("action": "status", "status": 503, "times": 3)")},
        FaultCase{"upload_reset_mid_body",
                  rule(kPut, R"("action": "reset", "after_bytes": 20000, "times": 1)")},
        FaultCase{"upload_slow_answer",
                  rule(kPut, R"("action": "delay", "delay_ms": 1500, "times": 2)")},
        // Submit
        FaultCase{"submit_429_retry_after",
                  rule(kSubmit, R"("action": "status", "status": 429, "retry_after": "1")")},
        FaultCase{"submit_503_burst",
                  rule(kSubmit, R"("action": "status", "status": 503, "times": 2)")},
        // Lost on the way in, but the client cannot prove it: held, never resent.
        FaultCase{"submit_reset_mid_body", rule(kSubmit, R"("action": "reset", "after_bytes": 10)"),
                  Outcome::held, "ambiguous_submit", 0},
        FaultCase{"submit_accepted_then_reset", rule(kSubmit, R"("action": "accept_then_reset")"),
                  Outcome::held, "ambiguous_submit", 1},
        // Status polls and the result
        FaultCase{"status_429_retry_after",
                  rule(kStatus, R"("action": "status", "status": 429, "retry_after": "1")")},
        FaultCase{"status_5xx_burst",
                  rule(kStatus, R"("action": "status", "status": 502, "times": 3)")},
        FaultCase{"status_reset", rule(kStatus, R"("action": "reset", "times": 2)")},
        FaultCase{"status_slow_body",
                  rule(kStatus, R"("action": "slow_body", "bytes_per_second": 500, "times": 2)")},
        FaultCase{"result_503_burst",
                  rule(kResult, R"("action": "status", "status": 503, "times": 2)")},
        // Download of the output
        FaultCase{"download_reset_mid_body",
                  rule(kDownload, R"("action": "reset", "after_bytes": 10000, "times": 1)")},
        FaultCase{"download_slow_body",
                  rule(kDownload, R"("action": "slow_body", "bytes_per_second": 200000,
                                     "times": -1)")},
        FaultCase{"download_503_burst",
                  rule(kDownload, R"("action": "status", "status": 503, "times": 2)")},
        // The model itself fails, or its output is gone: final, with fal's request id, and
        // never submitted again (that would pay twice).
        FaultCase{"app_failure", rule(kSubmit, R"("action": "app_failure")"), Outcome::failed,
                  "fal_app_failure"},
        FaultCase{"result_file_404", rule(kSubmit, R"("action": "result_file_404")"),
                  Outcome::failed, "fal_http_final"}),
    [](const ::testing::TestParamInfo<FaultCase>& fault) { return fault.param.name; });

}  // namespace
}  // namespace lipsyncd::test
