#include "lipsyncd/observe/heartbeat.hpp"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace lipsyncd::observe {

namespace {

// "3 held (2 budget, 1 ambiguous_submit)", or "1 held (ambiguous_submit)" for one reason: a
// hold that needs a person must never read as one that only waits for the budget.
std::string held_part(const Heartbeat& heartbeat) {
  std::vector<std::pair<std::string, std::uint64_t>> reasons;
  std::uint64_t explained = 0;
  for (const auto& [reason, count] : heartbeat.held_by_reason) {
    if (count == 0) continue;
    reasons.emplace_back(reason, count);
    explained += count;
  }
  if (explained < heartbeat.held) reasons.emplace_back("other", heartbeat.held - explained);
  if (reasons.size() == 1) return fmt::format("{} held ({})", heartbeat.held, reasons[0].first);
  std::string list;
  for (const auto& [reason, count] : reasons) {
    list += fmt::format("{}{} {}", list.empty() ? "" : ", ", count, reason);
  }
  return fmt::format("{} held ({})", heartbeat.held, list);
}

}  // namespace

std::string status_line(const Heartbeat& heartbeat) {
  std::string line = fmt::format("{} queued, {} preparing, {} at fal", heartbeat.queued,
                                 heartbeat.preparing, heartbeat.at_fal);
  if (heartbeat.deferred != 0) line += fmt::format(", {} deferred", heartbeat.deferred);
  if (heartbeat.held != 0) line += ", " + held_part(heartbeat);
  line += fmt::format(", {} delivered today", heartbeat.delivered_today);
  if (heartbeat.failed_today != 0) line += fmt::format(", {} failed today", heartbeat.failed_today);
  line += fmt::format(", ${:.2f} spent today", heartbeat.spend_today_usd);
  return line;
}

}  // namespace lipsyncd::observe
