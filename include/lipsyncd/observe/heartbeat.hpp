#pragma once
// The daemon's periodic summary: one heartbeat log line and the one-line sd_notify STATUS=
// text come from the same numbers, so the two never disagree.

#include <cstdint>
#include <map>
#include <string>

namespace lipsyncd::observe {

struct Heartbeat {
  std::uint64_t queued = 0;     // accepted, not yet being worked on
  std::uint64_t preparing = 0;  // probe, face check, normalize
  std::uint64_t at_fal = 0;     // uploading, submitted, polling, downloading
  std::uint64_t deferred = 0;
  std::uint64_t held = 0;
  // held, split by the hold's reason ("budget", "ambiguous_submit", "duplicate_in_flight"...):
  // an ambiguous submit needs a person, a budget hold only time or a higher cap.
  std::map<std::string, std::uint64_t> held_by_reason;
  std::uint64_t delivered_today = 0;
  std::uint64_t failed_today = 0;
  double spend_today_usd = 0;
  double spend_month_usd = 0;
  double oldest_job_age_s = 0;
};

// "2 queued, 1 preparing, 3 at fal, 14 delivered today, $4.20 spent today" (plus deferred,
// held and failed counts when not zero; held with its reasons: "2 held (1 ambiguous_submit,
// 1 budget)"). Fits systemd's STATUS= and `systemctl status`.
std::string status_line(const Heartbeat& heartbeat);

}  // namespace lipsyncd::observe
