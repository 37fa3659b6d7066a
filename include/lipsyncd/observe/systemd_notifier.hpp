#pragma once
// Talks to systemd through sd_notify(): READY=1, STATUS=, WATCHDOG=1, RELOADING=1,
// STOPPING=1. Without NOTIFY_SOCKET (run by hand) every call is a cheap no-op.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lipsyncd::observe {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and the watchdog settings (WATCHDOG_USEC, WATCHDOG_PID) now.
  SystemdNotifier();

  bool enabled() const noexcept { return enabled_; }

  // Only once the watcher is live (issue 5); status, when given, goes in the same message.
  void ready(std::string_view status = {});
  void status(std::string_view line);
  void watchdog();
  // Before re-reading the configuration; send ready() when the reload is done.
  void reloading();
  void stopping(std::string_view status = {});

  // WatchdogSec= of the unit, when set for this process.
  std::optional<std::chrono::microseconds> watchdog_timeout() const noexcept {
    return watchdog_timeout_;
  }
  // How often to call watchdog(): half the timeout, as sd_watchdog_enabled(3) advises.
  std::optional<std::chrono::microseconds> watchdog_interval() const noexcept;

  // The message text sent, "READY=1\nSTATUS=..." (exposed for tests and logs). STATUS= is
  // one line: newlines in `status` become spaces so they cannot inject other assignments.
  static std::string message(std::string_view assignments, std::string_view status);

 private:
  void send(const std::string& message);

  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_timeout_;
  bool warned_ = false;
};

}  // namespace lipsyncd::observe
