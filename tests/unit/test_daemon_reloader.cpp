// SIGHUP: what a reload reads, what it refuses, what it keeps, and the jobs it lets go on.

#include <gtest/gtest.h>

#include "daemon_test_store.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/reloader.hpp"
#include "lipsyncd/daemon/submission_gate.hpp"

namespace lipsyncd::daemon {
namespace {

class ReloaderTest : public ::testing::Test {
 protected:
  Config write_and_load(const std::string& toml) {
    std::ofstream(file, std::ios::trunc) << toml;
    return load_config(file, {});
  }

  lipsyncd::test::TempDir dir;
  std::filesystem::path file = dir / "lipsyncd.toml";
};

TEST_F(ReloaderTest, ANewCapIsTakenAndAFolderChangeWaitsForARestart) {
  const auto running = write_and_load("[paths]\ninbox = \"in\"\n[budget]\ndaily_usd = 5\n");
  std::ofstream(file, std::ios::trunc)
      << "[paths]\ninbox = \"elsewhere\"\n[budget]\ndaily_usd = 7\n";
  const auto fresh = reread_config(file, running, {});
  EXPECT_EQ(fresh.budget.daily_usd, 7);
  EXPECT_EQ(fresh.paths.inbox, running.paths.inbox);
}

TEST_F(ReloaderTest, AnEmptyFileIsRefusedAndTheReloaderKeepsTheRunningConfiguration) {
  const auto running = write_and_load("[budget]\ndaily_usd = 5\n");
  std::ofstream(file, std::ios::trunc) << "";
  try {
    reread_config(file, running, {});
    FAIL() << "an empty file replaced the running configuration";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "bad_config");
  }
  EXPECT_EQ(Reloader(file).reload(running), nullptr);
  std::ofstream(file, std::ios::trunc) << "[budget]\ndaily_usd = 6\n";
  const auto reloaded = Reloader(file).reload(running);
  ASSERT_NE(reloaded, nullptr);
  EXPECT_EQ(reloaded->budget.daily_usd, 6);
}

TEST(ReloaderSubmissions, OnlyJobsPausedForTheKeyGoOn) {
  test_support::TestStore t;
  const auto paused = t.prepared("paused", 1.0);
  const auto other = t.prepared("other", 1.0);
  const auto later = t.now + std::chrono::hours(1);
  t.store->defer(paused, {"upload", kSubmissionsPausedReason, "fal refused the key", ""}, later);
  t.store->defer(other, {"upload", "fal_unavailable", "503", ""}, later);
  EXPECT_EQ(resume_paused_submissions(*t.store), 1);
  EXPECT_EQ(t.store->get(paused).state, spool::JobState::prepared);
  EXPECT_EQ(t.store->get(other).state, spool::JobState::deferred);
}

}  // namespace
}  // namespace lipsyncd::daemon
