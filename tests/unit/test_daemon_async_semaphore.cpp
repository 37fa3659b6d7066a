#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lipsyncd/daemon/async_semaphore.hpp"

namespace lipsyncd::daemon {
namespace {

TEST(DaemonAsyncSemaphore, NeverLetsMoreThanTheLimitInAndWakesWaiters) {
  boost::asio::io_context io;
  AsyncSemaphore semaphore(io.get_executor(), 2);
  std::size_t most_inside = 0;
  int finished = 0;
  for (int i = 0; i < 7; ++i) {
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          co_await semaphore.acquire();
          SemaphoreUnit unit(semaphore);
          most_inside = std::max(most_inside, semaphore.in_use());
          boost::asio::steady_timer pause(io, std::chrono::milliseconds(2));
          co_await pause.async_wait(boost::asio::use_awaitable);
          ++finished;
        },
        boost::asio::detached);
  }
  io.run();
  EXPECT_EQ(finished, 7);
  EXPECT_EQ(most_inside, 2u);
  EXPECT_EQ(semaphore.in_use(), 0u);
}

TEST(DaemonAsyncSemaphore, RaisingTheLimitWakesWaitersAtOnce) {
  boost::asio::io_context io;
  AsyncSemaphore semaphore(io.get_executor(), 0);
  int entered = 0;
  for (int i = 0; i < 3; ++i) {
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          co_await semaphore.acquire();
          ++entered;
        },
        boost::asio::detached);
  }
  io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(entered, 0);
  EXPECT_EQ(semaphore.waiting(), 3u);
  semaphore.set_limit(3);
  io.restart();
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(entered, 3);
}

}  // namespace
}  // namespace lipsyncd::daemon
