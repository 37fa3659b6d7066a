// The state machine's arrows, independent of storage.

#include <gtest/gtest.h>

#include "lipsyncd/spool/job_state.hpp"

namespace lipsyncd::spool {
namespace {

using enum JobState;

TEST(JobState, NamesRoundTrip) {
  for (JobState state : kAllJobStates) {
    EXPECT_EQ(parse_job_state(to_string(state)), state);
  }
  EXPECT_FALSE(parse_job_state("archived"));
  EXPECT_EQ(parse_hold_reason("ambiguous_submit"), HoldReason::ambiguous_submit);
}

TEST(JobState, TheHappyPathIsAllowedStepByStepOnly) {
  const JobState path[] = {accepted,  prepared,  uploaded, submitting,
                           submitted, completed, delivered};
  for (std::size_t i = 0; i + 1 < std::size(path); ++i) {
    EXPECT_TRUE(is_allowed_transition(path[i], path[i + 1])) << to_string(path[i]);
    for (std::size_t skip = i + 2; skip < std::size(path); ++skip) {
      // Only the duplicate shortcut to completed may skip steps.
      const bool duplicate_shortcut =
          path[skip] == completed && (path[i] == accepted || path[i] == prepared);
      EXPECT_EQ(is_allowed_transition(path[i], path[skip]), duplicate_shortcut)
          << to_string(path[i]) << " -> " << to_string(path[skip]);
    }
  }
}

TEST(JobState, FinalStatesAreFinal) {
  for (JobState to : kAllJobStates) {
    EXPECT_FALSE(is_allowed_transition(delivered, to));
    EXPECT_FALSE(is_allowed_transition(cancelled, to));
    // retry: a fresh start, or (paid already) polling or delivering, never submitting; a
    // long-form job goes on with its segments, a segment from its cut inputs.
    EXPECT_EQ(is_allowed_transition(failed, to), to == accepted || to == prepared ||
                                                     to == submitted || to == segmented ||
                                                     to == completed);
  }
  EXPECT_TRUE(is_final(delivered));
  EXPECT_TRUE(is_final(failed));
  EXPECT_FALSE(is_final(held));
}

TEST(JobState, ALongFormJobWaitsSegmentedBetweenPreparedAndCompleted) {
  EXPECT_EQ(to_string(segmented), "segmented");
  EXPECT_TRUE(is_allowed_transition(prepared, segmented));
  EXPECT_TRUE(is_allowed_transition(segmented, completed));
  for (JobState parked : {deferred, held, failed, cancelled}) {
    EXPECT_TRUE(is_allowed_transition(segmented, parked)) << to_string(parked);
  }
  EXPECT_TRUE(is_allowed_transition(deferred, segmented));
  EXPECT_TRUE(is_allowed_transition(held, segmented));
  // It never goes to fal itself, and nothing reaches it but a prepared (or parked) job.
  for (JobState to : {accepted, prepared, uploaded, submitting, submitted, delivered}) {
    EXPECT_FALSE(is_allowed_transition(segmented, to)) << to_string(to);
  }
  for (JobState from : {accepted, uploaded, submitting, submitted, completed, delivered}) {
    EXPECT_FALSE(is_allowed_transition(from, segmented)) << to_string(from);
  }
  EXPECT_FALSE(is_final(segmented));
  EXPECT_EQ(kAllJobStates.size(), 12u);
}

TEST(JobState, NothingGoesBackwardsOrSubmitsAgainFromSubmitted) {
  EXPECT_FALSE(is_allowed_transition(submitted, submitting));
  EXPECT_FALSE(is_allowed_transition(submitted, uploaded));
  EXPECT_FALSE(is_allowed_transition(submitted, held));
  EXPECT_FALSE(is_allowed_transition(completed, submitted));
  EXPECT_FALSE(is_allowed_transition(deferred, submitting));  // via resume to uploaded only
  EXPECT_TRUE(is_allowed_transition(submitting, held));       // ambiguous submit
  EXPECT_TRUE(is_allowed_transition(submitted, deferred));
}

}  // namespace
}  // namespace lipsyncd::spool
