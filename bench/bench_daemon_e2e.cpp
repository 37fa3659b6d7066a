// The real daemon against the emulator at zero work (no queue wait, no processing, renders
// reused), so what is measured is lipsyncd itself:
//   - per-job overhead: one small pair at a time, from the rename into the inbox to the
//     sidecar in outbox/, minus the media preparation the sidecar reports (goal < 200 ms);
//   - the 1,000-job burst: 1,000 small pairs at once, wall time, jobs/s, peak RSS and most
//     open file descriptors of the daemon.
// A GoogleTest program (it reuses the end-to-end fixture), run by bench/run, not by ctest.
// Prints BENCH lines (see bench/CMakeLists.txt).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_report.hpp"
#include "daemon_test.hpp"
#include "process_sampler.hpp"
#include "small_pair.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using bench::bench_line;
using bench::median;

class DaemonBench : public DaemonTest {
 protected:
  void SetUp() override {
    use_zero_work_burst_setup();
    pair = make_small_pair(dir / "small");
  }

  MediaPair pair;
};

TEST_F(DaemonBench, PerJobOverheadAtZeroWork) {
  settings["fal"]["poll_interval_ms"] = "50";
  settings["fal"]["max_poll_interval_ms"] = "50";
  settings["face"]["min_samples"] = "8";  // one job at a time: the default face check
  settings["face"]["max_samples"] = "32";
  write_config();
  start_daemon();
  constexpr int kJobs = 21;  // the first renders at the emulator; it is not counted
  std::vector<double> totals_ms, overheads_ms;
  fs::create_directories(staging());
  for (int i = 0; i < kJobs; ++i) {
    const auto stem = "one" + std::to_string(i);
    fs::copy_file(pair.video, staging() / (stem + ".mp4"));
    fs::copy_file(pair.audio, staging() / (stem + ".wav"));
    const auto started = std::chrono::steady_clock::now();
    fs::rename(staging() / (stem + ".wav"), inbox() / (stem + ".wav"));
    fs::rename(staging() / (stem + ".mp4"), inbox() / (stem + ".mp4"));
    const auto sidecar = outbox() / (stem + ".lipsync.json");
    while (!fs::exists(sidecar) && std::chrono::steady_clock::now() - started < 60s) {
      std::this_thread::sleep_for(2ms);
    }
    const double total_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    ASSERT_TRUE(fs::exists(sidecar)) << daemon->log();
    const auto stages = read_json(sidecar).at("stage_seconds").as_object();
    const double prepare_ms = stages.at("prepare").to_number<double>() * 1000;
    if (i == 0) continue;
    totals_ms.push_back(total_ms);
    overheads_ms.push_back(total_ms - prepare_ms);
  }
  stop_daemon();
  const double overhead = median(overheads_ms);
  const double total = median(totals_ms);
  bench_line("daemon.per_job_overhead_zero_work_ms", overhead, "ms", "drop_to_delivered_ms", total,
             overhead / total, "<200ms");
}

TEST_F(DaemonBench, ThousandJobBurst) {
  constexpr int kPairs = 1000;
  settings["fal"]["poll_interval_ms"] = "100";
  settings["fal"]["max_poll_interval_ms"] = "300";
  write_config();
  start_daemon();
  stage_pairs(pair.video, pair.audio, kPairs);
  ProcessSampler sampler(daemon->pid());
  const auto started = std::chrono::steady_clock::now();
  move_staged_into_inbox();
  std::size_t results = 0;
  while (results < kPairs && std::chrono::steady_clock::now() - started < 900s) {
    std::this_thread::sleep_for(250ms);
    results = names_in(outbox()).size() / 2;
    if (results >= kPairs / 10) sampler.mark_warm();
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto usage = sampler.stop();
  ASSERT_EQ(results, static_cast<std::size_t>(kPairs)) << daemon->log();
  stop_daemon();
  ASSERT_EQ(requests_created(), static_cast<std::size_t>(kPairs));
  bench_line("daemon.burst_1000_wall_s", wall_s, "s", "jobs_per_s", kPairs / wall_s,
             wall_s / kPairs * 1000, "all delivered once (ratio: ms per job)");
  bench_line("daemon.burst_1000_peak_rss_mib", usage.peak_rss_kib / 1024.0, "MiB",
             "rss_after_100_jobs_mib", usage.rss_after_warmup_kib / 1024.0,
             static_cast<double>(usage.peak_rss_kib) /
                 static_cast<double>(std::max(1L, usage.rss_after_warmup_kib)),
             "bounded");
  bench_line("daemon.burst_1000_max_open_fds", usage.max_fds, "fds", "jobs", kPairs,
             usage.max_fds / static_cast<double>(kPairs), "bounded");
}

}  // namespace
}  // namespace lipsyncd::test
