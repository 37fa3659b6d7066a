#include "lipsyncd/intake/intake_clock.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace lipsyncd::intake {
namespace {

namespace asio = boost::asio;

class AsioTimer : public IntakeTimer {
 public:
  explicit AsioTimer(asio::io_context& io) : timer_(io) {}

  void wait_until(SteadyTime when, std::function<void()> due) override {
    timer_.expires_at(when);  // aborts the wait before, if any
    timer_.async_wait([due = std::move(due)](const boost::system::error_code& ec) {
      if (ec != asio::error::operation_aborted) due();
    });
  }

  void cancel() override { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

class SteadyIntakeClock final : public IntakeClock {
 public:
  explicit SteadyIntakeClock(asio::io_context& io) : io_(io) {}
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  std::unique_ptr<IntakeTimer> make_timer() override { return std::make_unique<AsioTimer>(io_); }

 private:
  asio::io_context& io_;
};

}  // namespace

std::shared_ptr<IntakeClock> steady_intake_clock(asio::io_context& io) {
  return std::make_shared<SteadyIntakeClock>(io);
}

}  // namespace lipsyncd::intake
