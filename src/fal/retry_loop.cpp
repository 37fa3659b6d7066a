#include "retry_loop.hpp"

#include <spdlog/spdlog.h>

namespace lipsyncd::fal::detail {

RetryLoop::RetryLoop(Clock& clock, double delay_scale, RetryHook on_retry)
    : clock_(clock),
      delay_scale_(delay_scale),
      on_retry_(std::move(on_retry)),
      random_(std::random_device{}()) {}

boost::asio::awaitable<void> RetryLoop::pause(Operation operation, const FalError& cause,
                                              std::chrono::milliseconds delay) {
  spdlog::debug("fal: {} failed ({}); retrying in {} ms", to_string(operation), cause.what(),
                delay.count());
  if (on_retry_) on_retry_(operation, cause, delay);
  co_await clock_.sleep(delay);
}

std::function<double()> RetryLoop::unit_random() {
  return [this] { return std::uniform_real_distribution<double>(0, 1)(random_); };
}

}  // namespace lipsyncd::fal::detail
