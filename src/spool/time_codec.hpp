#pragma once
// Times are stored as whole milliseconds since the Unix epoch (UTC): sortable integers that
// the sqlite3 shell can show with datetime(x / 1000, 'unixepoch').

#include <chrono>
#include <cstdint>

#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool {

inline std::int64_t to_millis(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

inline TimePoint from_millis(std::int64_t millis) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(millis)));
}

}  // namespace lipsyncd::spool
