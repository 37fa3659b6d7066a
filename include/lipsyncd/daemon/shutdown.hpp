#pragma once
// SIGTERM/SIGINT: the loop keeps running until the steps a stop must not cut short (a submit
// round trip, a delivery) are done or shutdown_timeout_s has passed; then the worker pools
// are given what is left of the deadline. Media work only writes temporary files and the job
// is still `accepted` in the store, so leaving it behind loses nothing.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>

namespace lipsyncd::daemon {

// How often the drain looks at the critical steps.
inline constexpr std::chrono::milliseconds kDrainInterval{50};

class Shutdown {
 public:
  // `in_critical_section` counts the steps that should finish before the loop stops.
  Shutdown(boost::asio::io_context& io, std::function<std::size_t()> in_critical_section);

  // True the first time: the caller stops intake and the pipeline, then calls drain().
  bool begin() noexcept;
  bool begun() const noexcept { return begun_; }
  // Stops the loop once no critical step is under way, or at `deadline` regardless.
  void drain(std::chrono::steady_clock::time_point deadline);

 private:
  boost::asio::io_context& io_;
  std::function<std::size_t()> in_critical_section_;
  boost::asio::steady_timer timer_;
  bool begun_ = false;
};

// shutdown_timeout_s from now.
std::chrono::steady_clock::time_point shutdown_deadline(double timeout_s);

// Stops the pools and waits for their threads until `deadline`; false when some work was still
// running then (the threads are left to the process's exit).
bool join_before(std::initializer_list<boost::asio::thread_pool*> pools,
                 std::chrono::steady_clock::time_point deadline);

}  // namespace lipsyncd::daemon
