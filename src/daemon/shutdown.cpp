#include "lipsyncd/daemon/shutdown.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace lipsyncd::daemon {

Shutdown::Shutdown(boost::asio::io_context& io, std::function<std::size_t()> in_critical_section)
    : io_(io), in_critical_section_(std::move(in_critical_section)), timer_(io) {}

bool Shutdown::begin() noexcept {
  if (begun_) return false;
  begun_ = true;
  return true;
}

void Shutdown::drain(std::chrono::steady_clock::time_point deadline) {
  const auto critical = in_critical_section_ ? in_critical_section_() : 0;
  if (critical == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (critical > 0) {
      spdlog::warn(
          "shutdown_timeout_s reached with {} submit(s) or deliveries under way; they "
          "are recovered on next start",
          critical);
    }
    io_.stop();
    return;
  }
  timer_.expires_after(kDrainInterval);
  timer_.async_wait([this, deadline](boost::system::error_code) { drain(deadline); });
}

std::chrono::steady_clock::time_point shutdown_deadline(double timeout_s) {
  return std::chrono::steady_clock::now() +
         std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
}

bool join_before(std::initializer_list<boost::asio::thread_pool*> pools,
                 std::chrono::steady_clock::time_point deadline) {
  std::vector<boost::asio::thread_pool*> all(pools);
  for (auto* pool : all) pool->stop();
  // Shared with the joiner, which may outlive this call when the deadline passes first.
  struct Joined {
    std::mutex mutex;
    std::condition_variable done_changed;
    bool done = false;
  };
  auto joined = std::make_shared<Joined>();
  std::thread joiner([all, joined] {
    for (auto* pool : all) pool->join();
    std::lock_guard lock(joined->mutex);
    joined->done = true;
    joined->done_changed.notify_one();
  });
  std::unique_lock lock(joined->mutex);
  const bool in_time =
      joined->done_changed.wait_until(lock, deadline, [&] { return joined->done; });
  lock.unlock();
  if (!in_time) {
    joiner.detach();
    return false;
  }
  joiner.join();
  return true;
}

}  // namespace lipsyncd::daemon
