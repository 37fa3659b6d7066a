#pragma once
// Private to the fal module. The one place the client tries again: every operation, downloads
// included, runs its attempts here under the Operation's retry policy, waiting on the client's
// Clock between them, so backoff, jitter and Retry-After are decided in one loop.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <random>

#include "lipsyncd/fal/clock.hpp"
#include "lipsyncd/fal/operation.hpp"

namespace lipsyncd::fal::detail {

class RetryLoop {
 public:
  // Told about each retry before the wait (metrics, logs).
  using RetryHook = std::function<void(Operation, const FalError&, std::chrono::milliseconds)>;

  RetryLoop(Clock& clock, double delay_scale, RetryHook on_retry);

  // Runs `attempt` (a coroutine returning awaitable<T>, which throws FalError when it fails)
  // until it succeeds or fails in a way the operation's policy does not retry; that FalError
  // is rethrown. Other exceptions pass through untouched.
  template <typename Attempt>
  std::invoke_result_t<Attempt&> run(Operation operation, Attempt attempt) {
    const RetryPolicy policy = retry_policy(operation).scaled(delay_scale_);
    for (int tries = 0;; ++tries) {
      std::optional<FalError> failure;
      try {
        co_return co_await attempt();
      } catch (const FalError& error) {
        failure = error;
      }
      if (!policy.should_retry(*failure, tries)) throw *failure;
      co_await pause(operation, *failure, policy.delay(tries, *failure, unit_random()));
    }
  }

 private:
  boost::asio::awaitable<void> pause(Operation operation, const FalError& cause,
                                     std::chrono::milliseconds delay);
  std::function<double()> unit_random();

  Clock& clock_;
  double delay_scale_;
  RetryHook on_retry_;
  std::mt19937_64 random_;
};

}  // namespace lipsyncd::fal::detail
