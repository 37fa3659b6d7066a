#include "lipsyncd/observe/heartbeat.hpp"

#include <fmt/format.h>

namespace lipsyncd::observe {

std::string status_line(const Heartbeat& heartbeat) {
  std::string line = fmt::format("{} queued, {} preparing, {} at fal", heartbeat.queued,
                                 heartbeat.preparing, heartbeat.at_fal);
  if (heartbeat.deferred != 0) line += fmt::format(", {} deferred", heartbeat.deferred);
  if (heartbeat.held != 0) line += fmt::format(", {} held by budget", heartbeat.held);
  line += fmt::format(", {} delivered today", heartbeat.delivered_today);
  if (heartbeat.failed_today != 0) line += fmt::format(", {} failed today", heartbeat.failed_today);
  line += fmt::format(", ${:.2f} spent today", heartbeat.spend_today_usd);
  return line;
}

}  // namespace lipsyncd::observe
