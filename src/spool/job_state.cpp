#include "lipsyncd/spool/job_state.hpp"

#include <algorithm>
#include <initializer_list>
#include <utility>

namespace lipsyncd::spool {
namespace {

constexpr std::array<std::pair<JobState, std::string_view>, 12> kStateNames = {{
    {JobState::accepted, "accepted"},
    {JobState::prepared, "prepared"},
    {JobState::uploaded, "uploaded"},
    {JobState::submitting, "submitting"},
    {JobState::submitted, "submitted"},
    {JobState::segmented, "segmented"},
    {JobState::completed, "completed"},
    {JobState::delivered, "delivered"},
    {JobState::deferred, "deferred"},
    {JobState::held, "held"},
    {JobState::failed, "failed"},
    {JobState::cancelled, "cancelled"},
}};

constexpr std::array<std::pair<HoldReason, std::string_view>, 5> kHoldNames = {{
    {HoldReason::budget, "budget"},
    {HoldReason::ambiguous_submit, "ambiguous_submit"},
    {HoldReason::operator_request, "operator_request"},
    {HoldReason::duplicate_in_flight, "duplicate_in_flight"},
    {HoldReason::duplicate, "duplicate"},
}};

bool is_one_of(JobState state, std::initializer_list<JobState> states) {
  return std::find(states.begin(), states.end(), state) != states.end();
}

}  // namespace

std::string_view to_string(JobState state) noexcept {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "accepted";
}

std::optional<JobState> parse_job_state(std::string_view name) noexcept {
  for (const auto& [value, known] : kStateNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

std::string_view to_string(HoldReason reason) noexcept {
  for (const auto& [value, name] : kHoldNames) {
    if (value == reason) return name;
  }
  return "operator_request";
}

std::optional<HoldReason> parse_hold_reason(std::string_view name) noexcept {
  for (const auto& [value, known] : kHoldNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

bool is_final(JobState state) noexcept {
  return is_one_of(state, {JobState::delivered, JobState::failed, JobState::cancelled});
}

bool is_allowed_transition(JobState from, JobState to) noexcept {
  using enum JobState;
  // Parking, giving up and cancelling are possible from every unfinished working state.
  const bool working =
      is_one_of(from, {accepted, prepared, uploaded, submitting, submitted, segmented, completed});
  if (working && is_one_of(to, {deferred, held, failed, cancelled})) {
    // A submitted job waits for fal, not for the budget or a person: it only defers
    // (poll trouble), fails or is cancelled.
    return !(from == submitted && to == held);
  }
  switch (from) {
    case accepted:
      return is_one_of(to, {prepared, completed});
    case prepared:
      return is_one_of(to, {uploaded, segmented, completed});
    case uploaded:
      return to == submitting;
    case submitting:
      return to == submitted;
    case submitted:
    case segmented:  // the segments' outputs stitched
      return to == completed;
    case completed:
      return to == delivered;
    // Back to the parked stage (the store checks which) or final.
    case deferred:
    case held:
      return is_one_of(
          to, {accepted, prepared, uploaded, submitted, segmented, completed, failed, cancelled});
    case failed:
      // `lipsyncd retry`: a fresh start, or (paid already) polling / delivering again; a
      // long-form job goes on with its segments, a segment from its cut inputs (the store
      // checks which job may take which).
      return is_one_of(to, {accepted, prepared, submitted, segmented, completed});
    case delivered:
    case cancelled:
      return false;
  }
  return false;
}

}  // namespace lipsyncd::spool
