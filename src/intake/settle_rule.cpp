#include "lipsyncd/intake/settle_rule.hpp"

#include <algorithm>

namespace lipsyncd::intake {

SettleRule::SettleRule(FileVersion version, SteadyTime now, Arrival arrival)
    : version_(version), last_change_(now), closed_at_(now) {
  history_known_ = arrival == Arrival::written_here;
  if (arrival == Arrival::renamed_in) renamed_in(version, now);
}

void SettleRule::written(SteadyTime now) {
  changed(now);
  writing_ = true;
}

void SettleRule::closed(FileVersion version, SteadyTime now) {
  if (!(version == version_)) declares_end_.reset();
  version_ = version;
  writing_ = false;
  closed_ = true;
  closed_at_ = now;
  last_change_ = now;
  // An empty close is a placeholder (create, then fill through a second open): not a round.
  if (version.size > 0) closed_with_content_ = true;
}

void SettleRule::renamed_in(FileVersion version, SteadyTime now) {
  // A rename puts a whole file under the name: whatever was known about the old one is moot.
  *this = SettleRule(version, now, Arrival::found);
  closed_ = true;
  arrived_complete_ = true;
  history_known_ = true;
  closed_with_content_ = version.size > 0;
}

void SettleRule::writers_unknown() {
  writing_ = false;
}

void SettleRule::changed(SteadyTime now) {
  // Content again after a round that left some: an appending writer, maybe between rounds.
  if (closed_with_content_ || arrived_complete_) written_in_rounds_ = true;
  last_change_ = now;
  closed_ = false;
  arrived_complete_ = false;
  declares_end_.reset();
}

bool SettleRule::fast_path_allowed(const std::function<bool()>& declares_its_end) {
  if (!closed_ || written_in_rounds_ || version_.size == 0) return false;
  if (arrived_complete_) return true;
  if (!history_known_) return false;  // earlier rounds may have happened before we looked
  if (!declares_end_) declares_end_ = declares_its_end && declares_its_end();
  return *declares_end_;
}

bool SettleRule::settled(const FileVersion& current, SteadyTime now, const SettleTimes& times,
                         const std::function<bool()>& declares_its_end) {
  if (!(current == version_)) {
    // Changed without an event we saw (a network share, or events still queued).
    version_ = current;
    changed(now);
    return false;
  }
  if (fast_path_allowed(declares_its_end)) {
    return now - closed_at_ >= std::min(times.closed_quiet, times.settle);
  }
  return !writing_ && now - last_change_ >= times.settle;
}

SteadyClock::duration SettleRule::recheck_after(const SettleTimes& times) const {
  const bool fast = closed_ && !written_in_rounds_ && version_.size > 0 &&
                    (arrived_complete_ || (history_known_ && declares_end_.value_or(false)));
  const auto wait = fast ? std::min(times.closed_quiet, times.settle) : times.settle;
  return std::max<SteadyClock::duration>(wait / 4, std::chrono::milliseconds(10));
}

}  // namespace lipsyncd::intake
