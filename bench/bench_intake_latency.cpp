// How fast a dropped pair becomes a JobRequest: from the close() of the second file to the
// watcher's callback (the IN_CLOSE_WRITE fast path of a file written in one round whose format
// states its length), anchored on the quiet window intake waits on purpose after such a close
// (25 ms: a writer that reopens at once shows up within it); and the
// same plus the spool claim (moves + fsyncs + SQLite commit). The raw kernel event latency,
// measured the same way, goes to stderr for reference. Goal: < 100 ms for the close path.

#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int kRounds = 40;
std::string box(const std::string& type, const std::string& payload) {
  const auto size = static_cast<std::uint32_t>(8 + payload.size());
  return std::string{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8), static_cast<char>(size)} +
         type + payload;
}
// Complete files whose structure states their length, written in one round: the close path
// (a file that does not state its length waits settle_s; see intake/settle_rule.hpp).
const std::string kWav = std::string("RIFF\x08\x10\x00\x00WAVEfmt ", 16) + std::string(4096, 'a');
const std::string kMp4 = box("ftyp", std::string("isom\0\0\0\0isommp41", 16)) + box("moov", "m") +
                         box("mdat", std::string(4096, 'v'));

void write_file(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

double millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

void print(const char* name, double value, const char* anchor, double anchor_value,
           const char* goal) {
  std::printf("BENCH\t%s\t%.2f\tms\t%s\t%.3f\t%.1f\t%s\n", name, value, anchor, anchor_value,
              anchor_value > 0 ? value / anchor_value : 0.0, goal);
}

// The floor: how long the kernel takes to report IN_CLOSE_WRITE to a blocking reader.
std::vector<double> raw_inotify_latencies(const fs::path& dir) {
  std::vector<double> latencies;
  const int fd = ::inotify_init1(IN_CLOEXEC);
  ::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE);
  alignas(inotify_event) char buffer[4096];
  for (int i = 0; i < kRounds; ++i) {
    write_file(dir / ("raw" + std::to_string(i)), kWav);
    const auto closed = Clock::now();
    if (::read(fd, buffer, sizeof buffer) <= 0) break;
    latencies.push_back(millis(Clock::now() - closed));
  }
  ::close(fd);
  return latencies;
}

}  // namespace

int main() {
  std::string pattern = (fs::temp_directory_path() / "lipsyncd-bench-XXXXXX").string();
  const fs::path root = ::mkdtemp(pattern.data());
  const fs::path inbox = root / "inbox";
  fs::create_directories(inbox);
  fs::create_directories(root / "raw");
  const auto raw = raw_inotify_latencies(root / "raw");

  lipsyncd::IntakeConfig settings;
  settings.settle_s = 2.0;  // the default: the close path must not wait for it
  settings.rescan_interval_s = 0;
  const auto opened = lipsyncd::spool::open_job_store({root / "state", "lipsync-1.9.0-beta"});
  lipsyncd::spool::JobStore& store = *opened;

  boost::asio::io_context io;
  std::optional<Clock::time_point> offered, claimed;
  bool claim_it = false;
  lipsyncd::intake::InboxWatcher watcher(io, inbox, settings,
                                         {[&](lipsyncd::JobRequest request) {
                                            offered = Clock::now();
                                            if (claim_it) {
                                              store.claim(request);
                                            } else {
                                              for (const auto& file : request.files())
                                                fs::remove(file);
                                            }
                                            claimed = Clock::now();
                                          },
                                          [](lipsyncd::intake::Rejection) {}});
  watcher.start();

  std::vector<double> to_request, to_claim;
  for (int i = 0; i < 2 * kRounds; ++i) {
    claim_it = i >= kRounds;
    offered.reset();
    const std::string stem = "clip " + std::to_string(i);
    write_file(inbox / (stem + ".mp4"), kMp4);
    write_file(inbox / (stem + ".wav"), kWav);
    const auto closed = Clock::now();
    const auto deadline = closed + 5s;
    while (!offered && Clock::now() < deadline) {
      io.run_for(1ms);
      if (io.stopped()) io.restart();
    }
    if (!offered) {
      std::fprintf(stderr, "no JobRequest within 5 s\n");
      return 1;
    }
    (claim_it ? to_claim : to_request).push_back(millis((claim_it ? *claimed : *offered) - closed));
    io.run_for(5ms);  // let the removal events pass
  }
  watcher.stop();
  fs::remove_all(root);

  std::fprintf(stderr, "raw inotify IN_CLOSE_WRITE latency: median %.3f ms\n",
               percentile(raw, 0.5));
  constexpr double kQuietWindowMs = 25;  // kClosedQuiet in src/intake/inbox_watcher.cpp
  print("intake close-to-JobRequest median", percentile(to_request, 0.5), "close quiet window",
        kQuietWindowMs, "< 100 ms");
  print("intake close-to-JobRequest p95", percentile(to_request, 0.95), "close quiet window",
        kQuietWindowMs, "< 100 ms");
  print("intake close-to-claimed (with spool claim) median", percentile(to_claim, 0.5),
        "close quiet window", kQuietWindowMs, "< 150 ms");
  return 0;
}
