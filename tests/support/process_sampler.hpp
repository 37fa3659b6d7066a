#pragma once
// Samples another process's resident memory and open file descriptors from /proc every
// 100 ms on a thread of its own, for load tests and benchmarks. Header-only.

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace lipsyncd::test {

struct ProcessUsage {
  long peak_rss_kib = 0;
  long rss_after_warmup_kib = 0;  // the peak until mark_warm(), 0 without it
  int max_fds = 0;
};

// VmRSS of a process in KiB (0 when it is gone).
inline long resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

inline int open_fds(pid_t pid) {
  std::error_code ec;
  int count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

class ProcessSampler {
 public:
  explicit ProcessSampler(pid_t pid) : pid_(pid), thread_([this] { sample_until_stopped(); }) {}
  ProcessSampler(const ProcessSampler&) = delete;
  ProcessSampler& operator=(const ProcessSampler&) = delete;
  ~ProcessSampler() { stop(); }

  // The warm-up is over (e.g. the first tenth of the jobs are done): remember the peak so far.
  void mark_warm() {
    std::lock_guard lock(mutex_);
    if (usage_.rss_after_warmup_kib == 0) usage_.rss_after_warmup_kib = usage_.peak_rss_kib;
  }

  ProcessUsage stop() {
    if (thread_.joinable()) {
      running_ = false;
      thread_.join();
    }
    std::lock_guard lock(mutex_);
    return usage_;
  }

 private:
  void sample_until_stopped() {
    while (running_) {
      const long rss = resident_kib(pid_);
      const int fds = open_fds(pid_);
      {
        std::lock_guard lock(mutex_);
        usage_.peak_rss_kib = std::max(usage_.peak_rss_kib, rss);
        usage_.max_fds = std::max(usage_.max_fds, fds);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  pid_t pid_;
  std::atomic<bool> running_{true};
  std::mutex mutex_;
  ProcessUsage usage_;
  std::thread thread_;
};

}  // namespace lipsyncd::test
