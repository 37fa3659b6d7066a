// sd_notify messages arrive on a real unix datagram socket named by NOTIFY_SOCKET, as systemd
// would receive them; without NOTIFY_SOCKET nothing is sent.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "lipsyncd/core/unique_fd.hpp"
#include "lipsyncd/observe/systemd_notifier.hpp"
#include "test_media.hpp"

namespace lipsyncd::observe {
namespace {

// Plays systemd's side: a bound datagram socket; NOTIFY_SOCKET points at it during the test.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path)
      : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.string().copy(address.sun_path, sizeof(address.sun_path) - 1);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket() { ::unsetenv("NOTIFY_SOCKET"); }

  // The next datagram, or nothing if none is waiting.
  std::optional<std::string> receive() const {
    char buffer[4096];
    const auto size = ::recv(fd_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (size < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(size));
  }

 private:
  UniqueFd fd_;
};

class ObserveSystemdNotifier : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  void TearDown() override { SetUp(); }
  lipsyncd::test::TempDir dir_;
};

TEST_F(ObserveSystemdNotifier, SendsEachStateChangeAsOneDatagram) {
  NotifySocket systemd(dir_ / "notify");
  SystemdNotifier notifier;
  ASSERT_TRUE(notifier.enabled());

  notifier.ready("0 queued, 0 preparing, 0 at fal");
  EXPECT_EQ(systemd.receive(), "READY=1\nSTATUS=0 queued, 0 preparing, 0 at fal");
  notifier.status("2 queued");
  EXPECT_EQ(systemd.receive(), "STATUS=2 queued");
  notifier.watchdog();
  EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
  notifier.reloading();
  const auto reloading = systemd.receive();
  ASSERT_TRUE(reloading);
  EXPECT_EQ(reloading->rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << *reloading;
  EXPECT_GT(std::stoull(reloading->substr(reloading->find('=', 12) + 1)), 0u);
  notifier.ready();
  EXPECT_EQ(systemd.receive(), "READY=1");
  notifier.stopping("draining 1 job");
  EXPECT_EQ(systemd.receive(), "STOPPING=1\nSTATUS=draining 1 job");
  EXPECT_EQ(systemd.receive(), std::nullopt);
}

TEST_F(ObserveSystemdNotifier, StatusTextCannotInjectOtherAssignments) {
  NotifySocket systemd(dir_ / "notify");
  SystemdNotifier notifier;
  notifier.status("clip\nREADY=1");
  EXPECT_EQ(systemd.receive(), "STATUS=clip READY=1");
}

TEST_F(ObserveSystemdNotifier, WithoutNotifySocketNothingIsSent) {
  const auto path = dir_ / "notify";
  std::optional<NotifySocket> systemd;
  systemd.emplace(path);
  ::unsetenv("NOTIFY_SOCKET");  // the socket exists, but we were not told about it
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.enabled());
  notifier.ready("x");
  notifier.watchdog();
  notifier.stopping();
  EXPECT_EQ(systemd->receive(), std::nullopt);
}

TEST_F(ObserveSystemdNotifier, WatchdogIntervalIsHalfOfWatchdogSec) {
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  SystemdNotifier notifier;
  ASSERT_TRUE(notifier.watchdog_timeout());
  EXPECT_EQ(*notifier.watchdog_timeout(), std::chrono::seconds(30));
  EXPECT_EQ(*notifier.watchdog_interval(), std::chrono::seconds(15));
}

TEST_F(ObserveSystemdNotifier, AWatchdogMeantForAnotherProcessIsIgnored) {
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.watchdog_timeout());
  EXPECT_FALSE(notifier.watchdog_interval());
}

TEST_F(ObserveSystemdNotifier, NoWatchdogWithoutWatchdogSec) {
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.watchdog_timeout());
}

}  // namespace
}  // namespace lipsyncd::observe
