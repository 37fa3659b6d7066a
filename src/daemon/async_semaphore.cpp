#include "lipsyncd/daemon/async_semaphore.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lipsyncd::daemon {

boost::asio::awaitable<void> AsyncSemaphore::acquire() {
  while (in_use_ >= limit_) {
    // A timer that never expires on its own: release() cancels it to wake this waiter.
    boost::asio::steady_timer wakeup(executor_, boost::asio::steady_timer::time_point::max());
    waiters_.push_back(&wakeup);
    boost::system::error_code ignored;
    co_await wakeup.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    // release() removes the entry it wakes; any other wake-up leaves it for us to remove.
    waiters_.remove(&wakeup);
  }
  ++in_use_;
}

void AsyncSemaphore::release() {
  if (in_use_ > 0) --in_use_;
  if (in_use_ < limit_) wake_one();
}

void AsyncSemaphore::set_limit(std::size_t limit) {
  limit_ = limit;
  for (std::size_t free = in_use_ < limit_ ? limit_ - in_use_ : 0; free > 0 && !waiters_.empty();
       --free) {
    wake_one();
  }
}

void AsyncSemaphore::wake_one() {
  if (waiters_.empty()) return;
  boost::asio::steady_timer* next = waiters_.front();
  waiters_.pop_front();
  next->cancel();
}

}  // namespace lipsyncd::daemon
