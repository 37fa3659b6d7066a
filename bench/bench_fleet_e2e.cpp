// Fleet mode's throughput and claim cost (#14), in one run so the ratios compare like with like:
//   - jobs per second at zero work (emulator --reuse-renders) for 1, 2 and 3 nodes on one
//     PostgreSQL, against one node on SQLite (the single-host default), 300 small pairs each;
//   - the job store's claim (inputs moved and fsynced, the claim key and the row committed),
//     per backend: the part of "close to claimed" that depends on the backend (the watcher's
//     part is bench_intake_latency's).
// A GoogleTest program using the fleet test fixture; run by bench/run, not by ctest.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_report.hpp"
#include "fleet_test.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kPairs = 300;

using bench::bench_line;
using bench::median;

// The SQLite single node's figure, measured first, is every later line's anchor.
double sqlite_jobs_per_s = 0;

class FleetBench : public FleetTest {
 protected:
  double burst_jobs_per_s(std::size_t node_count, bool on_postgres) {
    configure_fleet(30, on_postgres);
    start_nodes(node_count);
    if (HasFatalFailure()) return 0;
    const auto pair = make_small_pair(dir / "small");
    stage_pairs(pair.video, pair.audio, kPairs);
    const auto started = std::chrono::steady_clock::now();
    move_staged_into_inbox();
    while (results_in_outbox() < kPairs && std::chrono::steady_clock::now() - started < 900s) {
      std::this_thread::sleep_for(250ms);
    }
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_EQ(results_in_outbox(), static_cast<std::size_t>(kPairs)) << last_lines();
    stop_all_nodes();
    EXPECT_EQ(requests_created(), static_cast<std::size_t>(kPairs));
    return kPairs / wall_s;
  }

  void report(const std::string& name, double jobs_per_s) {
    bench_line(name, jobs_per_s, "jobs/s", "sqlite_1_node_jobs_per_s", sqlite_jobs_per_s,
               sqlite_jobs_per_s > 0 ? jobs_per_s / sqlite_jobs_per_s : 0,
               "all delivered once; more nodes, more throughput where CPU allows");
  }
};

TEST_F(FleetBench, SqliteOneNode) {
  sqlite_jobs_per_s = burst_jobs_per_s(1, false);
  report("fleet.sqlite_1_node_300_jobs_per_s", sqlite_jobs_per_s);
}

TEST_F(FleetBench, PostgresOneNode) {
  report("fleet.postgres_1_node_300_jobs_per_s", burst_jobs_per_s(1, true));
}

TEST_F(FleetBench, PostgresTwoNodes) {
  report("fleet.postgres_2_nodes_300_jobs_per_s", burst_jobs_per_s(2, true));
}

TEST_F(FleetBench, PostgresThreeNodes) {
  report("fleet.postgres_3_nodes_300_jobs_per_s", burst_jobs_per_s(3, true));
}

// Claims of small pairs straight through the job store, as the daemon's claim pool runs them.
double median_claim_ms(spool::JobStore& store, const fs::path& inbox) {
  constexpr int kClaims = 100;
  fs::create_directories(inbox);
  std::vector<double> millis;
  for (int i = 0; i < kClaims; ++i) {
    JobRequest request;
    request.name = "c" + std::to_string(i);
    request.video = inbox / (request.name + ".mp4");
    request.audio = inbox / (request.name + ".wav");
    std::ofstream(request.video, std::ios::binary) << std::string(4096, 'v') << i;
    std::ofstream(request.audio, std::ios::binary) << std::string(4096, 'a') << i;
    const auto started = std::chrono::steady_clock::now();
    store.claim(request);
    millis.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
  }
  return median(millis);
}

TEST_F(FleetBench, ClaimLatencyPerBackend) {
  spool::JobStoreSettings sqlite{dir / "state-sqlite", "lipsync-1.9.0-beta"};
  sqlite.node = "bench";
  const auto on_sqlite = spool::open_job_store(sqlite);
  const double sqlite_ms = median_claim_ms(*on_sqlite, dir / "inbox-sqlite");

  database->create_database("claims");
  spool::JobStoreSettings postgres{dir / "state-postgres", "lipsync-1.9.0-beta"};
  postgres.node = "bench";
  postgres.url = database->url("claims");
  const auto on_postgres = spool::open_job_store(postgres);
  const double postgres_ms = median_claim_ms(*on_postgres, dir / "inbox-postgres");

  bench_line("fleet.claim_sqlite_median_ms", sqlite_ms, "ms", "sqlite_ms", sqlite_ms, 1.0, "<50ms");
  bench_line("fleet.claim_postgres_median_ms", postgres_ms, "ms", "sqlite_ms", sqlite_ms,
             sqlite_ms > 0 ? postgres_ms / sqlite_ms : 0, "<50ms");
}

}  // namespace
}  // namespace lipsyncd::test
