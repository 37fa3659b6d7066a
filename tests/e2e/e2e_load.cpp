// Load (ctest label `load`): 1,000 small pairs dropped into the inbox at once, the emulator at
// zero processing time. All are delivered exactly once, and the daemon's memory and open file
// descriptors stay bounded by its concurrency limits, not by the number of jobs. The figures
// (wall time, jobs/s, peak RSS, most fds) are printed; bench/run reports the same run's
// figures as the 1,000-job burst.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "daemon_test.hpp"
#include "process_sampler.hpp"
#include "small_pair.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kPairs = 1000;

class LoadE2E : public DaemonTest {
 protected:
  void SetUp() override {}  // use_zero_work_burst_setup() starts the emulator
};

TEST_F(LoadE2E, AThousandPairsAtOnceAreAllDeliveredExactlyOnceInBoundedMemory) {
  use_zero_work_burst_setup();
  write_config();
  const auto pair = make_small_pair(dir / "small");
  start_daemon();

  stage_pairs(pair.video, pair.audio, kPairs);
  ProcessSampler sampler(daemon->pid());
  const auto started = std::chrono::steady_clock::now();
  move_staged_into_inbox();
  // Checked twice a second: listing 2,000 names more often would compete with the daemon.
  bool all_delivered = false;
  while (!all_delivered && std::chrono::steady_clock::now() - started < 540s) {
    std::this_thread::sleep_for(500ms);
    const auto results = names_in(outbox()).size() / 2;
    if (results >= kPairs / 10) sampler.mark_warm();
    all_delivered = results >= kPairs;
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto usage = sampler.stop();
  ASSERT_TRUE(all_delivered) << names_in(outbox()).size() / 2 << " of " << kPairs
                             << " delivered; last log lines:\n"
                             << daemon->log().substr(
                                    daemon->log().size() > 4000 ? daemon->log().size() - 4000 : 0);
  std::printf(
      "LOAD\tpairs=%d\twall_s=%.1f\tjobs_per_s=%.2f\tpeak_rss_mib=%.1f\tmax_fds=%d\t"
      "rss_at_10pct_mib=%.1f\n",
      kPairs, wall_s, kPairs / wall_s, usage.peak_rss_kib / 1024.0, usage.max_fds,
      usage.rss_after_warmup_kib / 1024.0);
  RecordProperty("wall_s", std::to_string(wall_s));
  RecordProperty("peak_rss_mib", std::to_string(usage.peak_rss_kib / 1024.0));
  RecordProperty("max_fds", std::to_string(usage.max_fds));

  // Exactly once: one request each at fal, one result each, every input archived once.
  EXPECT_TRUE(eventually([&] { return names_in(done()).size() == 2 * kPairs; }, 30s));
  stop_daemon();
  EXPECT_EQ(requests_created(), static_cast<std::size_t>(kPairs));
  EXPECT_EQ(submissions(), static_cast<std::size_t>(kPairs));
  expect_each_pair_delivered_once(kPairs);

  // Bounded: the daemon holds at most max_in_flight jobs at fal and two in preparation, so
  // its descriptors and memory are set by those limits, not by the thousand jobs queued.
  EXPECT_LT(usage.max_fds, 128) << "open file descriptors grew with the number of jobs";
  EXPECT_LT(usage.peak_rss_kib, 400 * 1024) << "peak RSS";
  // Memory after the first tenth of the jobs against the whole run: no growth per job.
  EXPECT_LT(usage.peak_rss_kib, usage.rss_after_warmup_kib * 2 + 32 * 1024)
      << "RSS kept growing with the number of jobs";
}

}  // namespace
}  // namespace lipsyncd::test
