#include "lipsyncd/observe/systemd_notifier.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <cstring>

namespace lipsyncd::observe {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if any) is this process.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_timeout_ = std::chrono::microseconds(usec);
  }
}

std::optional<std::chrono::microseconds> SystemdNotifier::watchdog_interval() const noexcept {
  if (!watchdog_timeout_) return std::nullopt;
  return *watchdog_timeout_ / 2;
}

std::string SystemdNotifier::message(std::string_view assignments, std::string_view status) {
  std::string text(assignments);
  if (!status.empty()) {
    if (!text.empty()) text += '\n';
    text += "STATUS=";
    for (const char c : status) text += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return text;
}

void SystemdNotifier::ready(std::string_view status) {
  send(message("READY=1", status));
}

void SystemdNotifier::status(std::string_view line) {
  send(message({}, line));
}

void SystemdNotifier::watchdog() {
  send("WATCHDOG=1");
}

void SystemdNotifier::reloading() {
  // systemd >= 253 (Type=notify-reload) wants the CLOCK_MONOTONIC time with RELOADING=1;
  // older versions ignore the extra assignment.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1000000u +
                    static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SystemdNotifier::stopping(std::string_view status) {
  send(message("STOPPING=1", status));
}

void SystemdNotifier::send(const std::string& text) {
  if (!enabled_ || text.empty()) return;
  const int rc = sd_notify(0, text.c_str());
  if (rc < 0 && !warned_) {
    // Once: systemd will notice a missing READY=1 or WATCHDOG=1 itself; repeating is noise.
    warned_ = true;
    spdlog::warn("cannot notify systemd ({}): {}", text.substr(0, text.find('\n')),
                 std::strerror(-rc));
  }
}

}  // namespace lipsyncd::observe
