#include "lipsyncd/fal/clock.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lipsyncd::fal {
namespace {

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }

  boost::asio::awaitable<void> sleep(std::chrono::milliseconds delay) override {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
};

}  // namespace

std::shared_ptr<Clock> real_clock() {
  return std::make_shared<SteadyClock>();
}

}  // namespace lipsyncd::fal
