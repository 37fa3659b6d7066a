#pragma once
// Intake's seam for time: what time it is, and waiting until a moment. The daemon uses the
// steady clock with Asio timers on its io_context; tests pass a clock they move by hand, so
// settle times, partner waits, the periodic rescan and the inbox probe run without sleeping
// (as the job store's Clock lets its tests set the day). Boost.Asio stays out of this header.

#include <functional>
#include <memory>

#include "lipsyncd/intake/settle_rule.hpp"

namespace boost::asio {
class io_context;
}

namespace lipsyncd::intake {

// One pending wait at a time: a new wait replaces the one before. Destroying it cancels it.
class IntakeTimer {
 public:
  virtual ~IntakeTimer() = default;
  // Calls `due` once the clock reaches `when`, unless cancelled or replaced first.
  virtual void wait_until(SteadyTime when, std::function<void()> due) = 0;
  virtual void cancel() = 0;
};

class IntakeClock {
 public:
  virtual ~IntakeClock() = default;
  virtual SteadyTime now() const = 0;
  // A timer on this clock. It must not outlive the clock.
  virtual std::unique_ptr<IntakeTimer> make_timer() = 0;
};

// std::chrono::steady_clock, and boost::asio::steady_timer on `io` (its waits end on the
// io_context's thread).
std::shared_ptr<IntakeClock> steady_intake_clock(boost::asio::io_context& io);

}  // namespace lipsyncd::intake
