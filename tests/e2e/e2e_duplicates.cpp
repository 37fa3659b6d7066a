// Duplicates in flight (ctest label `e2e-reliability-duplicates`, issue 10 case 3): the same
// pair dropped twice under different names, at once with parallel preparation or while the
// first copy is at fal, is paid for once. The copy waits for the first and reuses its result
// ([intake] duplicate_in_flight = "wait"), or is held for a person ("hold"); when the first
// fails, the copy is not lost: it goes on alone and pays once.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "daemon_test.hpp"
#include "small_pair.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class DuplicatesE2E : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    pair = make_small_pair(dir / "small");
    settings["daemon"]["max_parallel_prepare"] = "3";
  }

  // The pair dropped as STEM.mp4 + STEM.wav, written then renamed.
  void drop_copy(const std::string& stem) {
    drop_file(pair.video, stem + ".mp4");
    drop_file(pair.audio, stem + ".wav");
  }

  // The emulator takes its time, so a second copy can be dropped while the first is at fal.
  void use_slow_emulator() { start_emulator({.processing_ms = 6000}); }

  // Waits until the first copy has a request at fal.
  bool first_is_at_fal() {
    return eventually([&] { return requests_created() == 1; }, 60s);
  }

  std::string job_id_of(const std::string& name) {
    const auto status = status_json();  // named: the loop must not outlive it
    for (const auto& job : status.at("jobs").as_array()) {
      if (job.at("name").as_string() == name) return std::string(job.at("id").as_string());
    }
    return {};
  }

  boost::json::object job_named(const std::string& name) {
    const auto status = status_json();
    for (const auto& job : status.at("jobs").as_array()) {
      if (job.at("name").as_string() == name) return job.as_object();
    }
    return {};
  }

  MediaPair pair;
};

TEST_F(DuplicatesE2E, CopiesDroppedTogetherWithParallelPrepareArePaidOnce) {
  start_daemon();
  // Three copies under three names, moved into the inbox in one burst.
  fs::create_directories(staging());
  for (const std::string stem : {"alpha", "beta", "gamma"}) {
    fs::copy_file(pair.video, staging() / (stem + ".mp4"));
    fs::copy_file(pair.audio, staging() / (stem + ".wav"));
  }
  move_staged_into_inbox();
  for (const std::string stem : {"alpha", "beta", "gamma"}) {
    ASSERT_TRUE(delivered(stem, 120s)) << daemon->log();
  }
  EXPECT_EQ(requests_created(), 1u) << "identical pairs in flight were paid more than once";
  EXPECT_EQ(submissions(), 1u);
  // Exactly one copy went to fal; the two others carry its result and cost nothing.
  int duplicates = 0;
  for (const std::string stem : {"alpha", "beta", "gamma"}) {
    const auto sidecar = read_json(outbox() / (stem + ".lipsync.json"));
    if (sidecar.contains("duplicate_of")) {
      ++duplicates;
      EXPECT_EQ(sidecar.at("estimated_cost_usd").as_double(), 0.0);
    }
    EXPECT_EQ(read_text(outbox() / (stem + ".lipsync.mp4")),
              read_text(outbox() / "alpha.lipsync.mp4"));
    EXPECT_TRUE(
        eventually([&] { return places_of(stem + ".wav") == std::set<std::string>{"done"}; }, 10s));
  }
  EXPECT_EQ(duplicates, 2);
  stop_daemon();
}

TEST_F(DuplicatesE2E, ACopyDroppedWhileTheFirstIsAtFalWaitsAndReusesItsResult) {
  use_slow_emulator();
  write_config();
  start_daemon();
  drop_copy("first");
  ASSERT_TRUE(first_is_at_fal()) << daemon->log();
  drop_copy("second");
  ASSERT_TRUE(
      daemon->wait_for_output(std::regex("event=held.*reason_code=duplicate_in_flight"), 60s))
      << daemon->log();
  EXPECT_EQ(job_named("second").at("hold_reason").as_string(), "duplicate_in_flight");
  ASSERT_TRUE(delivered("first", 120s)) << daemon->log();
  ASSERT_TRUE(delivered("second", 60s)) << daemon->log();
  EXPECT_EQ(requests_created(), 1u);
  EXPECT_EQ(submissions(), 1u);
  EXPECT_EQ(uploads(), 2u) << "the copy uploaded nothing";
  const auto sidecar = read_json(outbox() / "second.lipsync.json");
  EXPECT_EQ(sidecar.at("duplicate_of").as_string(), job_id_of("first"));
  stop_daemon();
}

TEST_F(DuplicatesE2E, HoldModeHoldsTheCopyUntilAPersonRetriesIt) {
  settings["intake"]["duplicate_in_flight"] = "\"hold\"";
  use_slow_emulator();
  write_config();
  start_daemon();
  drop_copy("first");
  ASSERT_TRUE(first_is_at_fal()) << daemon->log();
  drop_copy("second");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held.*reason_code=duplicate\\b"), 60s))
      << daemon->log();
  ASSERT_TRUE(delivered("first", 120s)) << daemon->log();
  std::this_thread::sleep_for(2s);  // a few pump rounds: a hold for a person stays
  const auto held = job_named("second");
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held.at("state").as_string(), "held");
  EXPECT_EQ(held.at("hold_reason").as_string(), "duplicate");
  EXPECT_EQ(places_of("second.mp4").size(), 1u) << "kept in the spool";

  int code = -1;
  const auto said = run_cli({"retry", std::string(held.at("id").as_string())}, &code);
  EXPECT_EQ(code, 0) << said;
  ASSERT_TRUE(delivered("second", 60s)) << daemon->log();
  EXPECT_EQ(requests_created(), 1u);
  EXPECT_TRUE(read_json(outbox() / "second.lipsync.json").contains("duplicate_of"));
  stop_daemon();
}

TEST_F(DuplicatesE2E, IfTheFirstFailsAtFalTheWaitingCopyGoesOnAndPaysOnce) {
  use_slow_emulator();
  // The first request fails inside fal (the model's error): final, nothing to reuse.
  emulator->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
                           "action": "app_failure", "times": 1})");
  write_config();
  start_daemon();
  drop_copy("first");
  ASSERT_TRUE(first_is_at_fal()) << daemon->log();
  drop_copy("second");
  ASSERT_TRUE(
      daemon->wait_for_output(std::regex("event=held.*reason_code=duplicate_in_flight"), 60s))
      << daemon->log();
  ASSERT_TRUE(rejected("first", 120s)) << daemon->log();
  ASSERT_TRUE(delivered("second", 120s)) << daemon->log();
  EXPECT_EQ(requests_created(), 2u) << "the failed request and the copy's own, no more";
  EXPECT_FALSE(read_json(outbox() / "second.lipsync.json").contains("duplicate_of"));
  stop_daemon();
}

}  // namespace
}  // namespace lipsyncd::test
