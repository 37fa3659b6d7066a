#pragma once
// An intake clock the test moves by hand: advance() runs every wait that falls due on the way,
// in time order and at its own moment (now() reads the wait's time while it runs), on the
// calling thread. Nothing sleeps.

#include <functional>
#include <map>
#include <memory>

#include "lipsyncd/intake/intake_clock.hpp"

namespace lipsyncd::test {

class ManualIntakeClock : public intake::IntakeClock {
 public:
  explicit ManualIntakeClock(intake::SteadyTime start) : now_(start) {}

  intake::SteadyTime now() const override { return now_; }

  std::unique_ptr<intake::IntakeTimer> make_timer() override {
    return std::make_unique<Timer>(*this, next_timer_++);
  }

  void advance(intake::SteadyClock::duration by) { advance_to(now_ + by); }

  void advance_to(intake::SteadyTime to) {
    while (true) {
      auto due = waits_.end();
      for (auto it = waits_.begin(); it != waits_.end(); ++it) {
        if (it->second.when <= to && (due == waits_.end() || it->second.when < due->second.when)) {
          due = it;
        }
      }
      if (due == waits_.end()) break;
      if (due->second.when > now_) now_ = due->second.when;
      auto run = std::move(due->second.run);
      waits_.erase(due);
      run();  // may wait again, on this timer or another
    }
    if (to > now_) now_ = to;
  }

  // Waits not yet due.
  std::size_t pending_waits() const { return waits_.size(); }

 private:
  struct Wait {
    intake::SteadyTime when;
    std::function<void()> run;
  };

  class Timer : public intake::IntakeTimer {
   public:
    Timer(ManualIntakeClock& clock, int id) : clock_(clock), id_(id) {}
    ~Timer() override { cancel(); }
    void wait_until(intake::SteadyTime when, std::function<void()> due) override {
      clock_.waits_[id_] = Wait{when, std::move(due)};
    }
    void cancel() override { clock_.waits_.erase(id_); }

   private:
    ManualIntakeClock& clock_;
    int id_;
  };

  intake::SteadyTime now_;
  int next_timer_ = 0;
  std::map<int, Wait> waits_;  // by timer: one wait each
};

}  // namespace lipsyncd::test
