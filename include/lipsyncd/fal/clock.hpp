#pragma once
// The seam for time: the fal client reads the time and waits (retry backoff, Retry-After,
// status polls, the total timeout) only through a Clock, so tests pass a fake one and run that
// timing without real-time sleeps while the io_context stays real. Network timeouts
// ([fal] connect_timeout_s, io_timeout_s) are the transport's own socket timers, not this.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>

namespace lipsyncd::fal {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  // Resumes the calling coroutine after `delay`, on the coroutine's executor.
  virtual boost::asio::awaitable<void> sleep(std::chrono::milliseconds delay) = 0;
};

// std::chrono::steady_clock, and an Asio steady_timer for sleeping.
std::shared_ptr<Clock> real_clock();

}  // namespace lipsyncd::fal
