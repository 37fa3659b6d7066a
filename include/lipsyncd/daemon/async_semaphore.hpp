#pragma once
// A counting semaphore for coroutines on one event loop: bounds how many jobs prepare at once
// and how many are at fal. Not thread-safe (one io_context thread uses it).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <list>

namespace lipsyncd::daemon {

class AsyncSemaphore {
 public:
  AsyncSemaphore(boost::asio::any_io_executor executor, std::size_t limit)
      : executor_(std::move(executor)), limit_(limit) {}

  boost::asio::awaitable<void> acquire();
  // Takes a unit even when none is free: for work that is already under way (a request that
  // is at fal after a restart must be followed, whatever the limit).
  void acquire_now() { ++in_use_; }
  void release();
  // A lower limit lets current holders finish; a higher one wakes waiters.
  void set_limit(std::size_t limit);

  std::size_t in_use() const noexcept { return in_use_; }
  std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  void wake_one();

  boost::asio::any_io_executor executor_;
  std::size_t limit_;
  std::size_t in_use_ = 0;
  std::list<boost::asio::steady_timer*> waiters_;
};

// Releases one unit when it goes out of scope.
class SemaphoreUnit {
 public:
  explicit SemaphoreUnit(AsyncSemaphore& semaphore) : semaphore_(&semaphore) {}
  SemaphoreUnit(SemaphoreUnit&& other) noexcept : semaphore_(other.semaphore_) {
    other.semaphore_ = nullptr;
  }
  SemaphoreUnit(const SemaphoreUnit&) = delete;
  SemaphoreUnit& operator=(const SemaphoreUnit&) = delete;
  SemaphoreUnit& operator=(SemaphoreUnit&&) = delete;
  ~SemaphoreUnit() {
    if (semaphore_ != nullptr) semaphore_->release();
  }

 private:
  AsyncSemaphore* semaphore_;
};

}  // namespace lipsyncd::daemon
