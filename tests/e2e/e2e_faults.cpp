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
#include "loopback_http.hpp"

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
  bool request_id_known = true;  // failed: false when fal refused the submit itself
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

// fal-protocol.md §6.1/§6.4 answers, each scripted with its headers and body:
// a concurrency-limit 429 with fal's retry hint (retried),
constexpr const char* kNeedsRetry429 = R"("action": "status", "status": 429, "times": 2,
    "headers": {"X-Fal-Needs-Retry": "1"}, "body": {"detail": "concurrent requests limit"})";
// fal's ingress (nginx) failing: an HTML page and no x-fal-request-id (retried),
constexpr const char* kNginx502 = R"("action": "status", "status": 502, "times": 2,
    "raw_body": "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
    "request_id_header": false)";
constexpr const char* kNginx503 = R"("action": "status", "status": 503, "times": 2,
    "raw_body": "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>nginx</center></body></html>",
    "request_id_header": false)";
// a key without permission (final, reported as such),
constexpr const char* kForbidden = R"("action": "status", "status": 403, "times": -1,
    "body": {"detail": "User is not allowed to access this application"})";
// the request's own start deadline ran out at fal (final: fal already retried it).
constexpr const char* kUserTimeout = R"("action": "status", "status": 504, "times": -1,
    "headers": {"x-fal-request-timeout-type": "user", "X-Fal-Error-Type": "request_timeout"},
    "body": {"detail": "Request timed out", "error_type": "request_timeout"})";

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
      if (fault.request_id_known) {
        ASSERT_TRUE(report.contains("request_id")) << "the user needs fal's request id";
        EXPECT_FALSE(report.at("request_id").as_string().empty());
      } else {
        EXPECT_FALSE(report.contains("request_id")) << "fal created no request";
      }
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

// fal-protocol.md §6.4: a 401/403 is the key's or the account's problem, so after the first one
// nothing else is uploaded or submitted (it would be refused too) until a person fixes it and
// reloads; the job that met it fails with the reason, the others wait, /healthz says why.
using KeyRefusedE2E = DaemonTest;

TEST_F(KeyRefusedE2E, A403StopsAllUploadsAndSubmitsUntilReload) {
  const int port = free_port();
  settings["metrics"]["listen"] = "\"127.0.0.1:" + std::to_string(port) + "\"";
  emulator->set_faults(rule(kSubmit, kForbidden));
  write_config();
  start_daemon();
  drop("real_talk_monalisa_720p.mp4", "first.mp4");
  drop("speech_1s.wav", "first.wav");
  ASSERT_TRUE(rejected("first", 120s)) << daemon->log();
  EXPECT_EQ(read_json(error() / "first.error.json").at("reason_code").as_string(), "fal_forbidden");
  const auto initiates_before = uploads();

  drop("real_talk_monalisa_720p.mp4", "second.mp4");
  drop("speech_1s.wav", "second.wav");
  ASSERT_TRUE(daemon->wait_for_output(
      std::regex("event=deferred job_id=\\S+ .*reason_code=submissions_paused"), 120s))
      << daemon->log();
  std::this_thread::sleep_for(2s);  // a few pump rounds: still nothing sent
  EXPECT_EQ(uploads(), initiates_before)
      << "the second job was uploaded although fal refuses the key";
  EXPECT_EQ(submissions(), 1u);
  const auto health = http_get(port, "/healthz");
  EXPECT_NE(health.find(" 503 "), std::string::npos) << health;
  EXPECT_NE(health.find("submissions paused"), std::string::npos) << health;
  EXPECT_TRUE(names_in(outbox()).empty());

  emulator->clear_faults();
  daemon->signal(SIGHUP);
  ASSERT_TRUE(delivered("second", 120s)) << daemon->log();
  EXPECT_NE(http_get(port, "/healthz").find(" 200 "), std::string::npos);
  EXPECT_EQ(requests_created(), 1u) << "requests paid at fal";
  EXPECT_EQ(places_of("first.mp4"), (std::set<std::string>{"error"}));
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
                  Outcome::failed, "fal_http_final"},
        // §6.4, each at submit, status and result: retried when fal says so (429 with
        // X-Fal-Needs-Retry, an ingress page), final otherwise (403, a user timeout); never
        // a second paid request.
        FaultCase{"submit_429_needs_retry", rule(kSubmit, kNeedsRetry429)},
        FaultCase{"status_429_needs_retry", rule(kStatus, kNeedsRetry429)},
        FaultCase{"result_429_needs_retry", rule(kResult, kNeedsRetry429)},
        FaultCase{"submit_nginx_502", rule(kSubmit, kNginx502)},
        FaultCase{"status_nginx_503", rule(kStatus, kNginx503)},
        FaultCase{"result_nginx_502", rule(kResult, kNginx502)},
        FaultCase{"submit_403_forbidden", rule(kSubmit, kForbidden), Outcome::failed,
                  "fal_forbidden", 0, false},
        FaultCase{"status_403_forbidden", rule(kStatus, kForbidden), Outcome::failed,
                  "fal_forbidden"},
        FaultCase{"result_403_forbidden", rule(kResult, kForbidden), Outcome::failed,
                  "fal_forbidden"},
        FaultCase{"submit_504_user_timeout", rule(kSubmit, kUserTimeout), Outcome::failed,
                  "fal_http_final", 0, false},
        FaultCase{"status_504_user_timeout", rule(kStatus, kUserTimeout), Outcome::failed,
                  "fal_http_final"},
        FaultCase{"result_504_user_timeout", rule(kResult, kUserTimeout), Outcome::failed,
                  "fal_http_final"}),
    [](const ::testing::TestParamInfo<FaultCase>& fault) { return fault.param.name; });

}  // namespace
}  // namespace lipsyncd::test
