// Shutdown: the drain waits for the critical steps, but not past the deadline; the pools are
// joined within what is left of it.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <thread>

#include "lipsyncd/daemon/shutdown.hpp"

namespace lipsyncd::daemon {
namespace {

using namespace std::chrono_literals;

TEST(DaemonShutdown, BeginsOnce) {
  boost::asio::io_context io;
  Shutdown shutdown(io, [] { return std::size_t{0}; });
  EXPECT_FALSE(shutdown.begun());
  EXPECT_TRUE(shutdown.begin());
  EXPECT_FALSE(shutdown.begin()) << "a second signal is absorbed";
  EXPECT_TRUE(shutdown.begun());
}

TEST(DaemonShutdown, DrainStopsTheLoopOnceTheCriticalStepsAreDone) {
  boost::asio::io_context io;
  std::size_t critical = 1;
  Shutdown shutdown(io, [&] { return critical; });
  boost::asio::steady_timer step_done(io, 3 * kDrainInterval);
  step_done.async_wait([&](boost::system::error_code) { critical = 0; });
  shutdown.drain(std::chrono::steady_clock::now() + 1h);
  const auto started = std::chrono::steady_clock::now();
  io.run();
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(critical, 0u) << "stopped before the submit or delivery under way was done";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

TEST(DaemonShutdown, DrainGivesUpAtTheDeadline) {
  boost::asio::io_context io;
  Shutdown shutdown(io, [] { return std::size_t{1}; });
  shutdown.drain(std::chrono::steady_clock::now() + 2 * kDrainInterval);
  io.run();  // returns: the loop was stopped with the step still under way
  EXPECT_TRUE(io.stopped());
}

TEST(DaemonShutdown, PoolsJoinedInTimeOrLeftBehind) {
  boost::asio::thread_pool quick(1);
  boost::asio::post(quick, [] {});
  EXPECT_TRUE(join_before({&quick}, std::chrono::steady_clock::now() + 5s));

  boost::asio::thread_pool slow(1);
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
  boost::asio::post(slow, [&] {
    started = true;
    while (!release) std::this_thread::sleep_for(1ms);
    finished = true;
  });
  while (!started) std::this_thread::sleep_for(1ms);  // stop() drops work not yet begun
  EXPECT_FALSE(join_before({&slow}, std::chrono::steady_clock::now() + 50ms));
  release = true;
  while (!finished) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);  // the left-behind joiner returns before `slow` goes
}

TEST(DaemonShutdown, DeadlineIsTheTimeoutFromNow) {
  const auto before = std::chrono::steady_clock::now();
  const auto deadline = shutdown_deadline(1.5);
  EXPECT_GE(deadline - before, 1500ms);
  EXPECT_LT(deadline - before, 2500ms);
}

}  // namespace
}  // namespace lipsyncd::daemon
