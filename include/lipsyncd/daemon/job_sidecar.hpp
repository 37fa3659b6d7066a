#pragma once
// The sidecar of a delivered job, built in one place from the job, the plan its result came
// from and the facts measured on the result.

#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/core/video_facts.hpp"
#include "lipsyncd/outbox/sidecar.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::daemon {

// What a job's result came from: its own plan and fal request, or, for a duplicate, which has
// none of its own, those of the twin whose result it reused.
struct ResultOrigin {
  spool::JobPlan plan{};
  std::string request_id{};
  std::string endpoint{};
};
ResultOrigin origin_of(const spool::JobRecord& job, const std::optional<spool::JobRecord>& twin);

// Seconds between the job's last entry into `from` and into `to`, when it entered both.
std::optional<double> stage_seconds(const spool::JobRecord& job, spool::JobState from,
                                    spool::JobState to);

// A long-form job's parts, from the parent's plan and its child jobs (JobStore::segments_of).
std::vector<outbox::SidecarSegment> sidecar_segments(const spool::JobPlan& parent_plan,
                                                     const std::vector<spool::JobRecord>& children);

// The sidecar: what was asked of fal, what came back (`facts`), what it cost and how long each
// stage took, "deliver" counted up to `now`.
outbox::Sidecar sidecar_for(const spool::JobRecord& job, const ResultOrigin& origin,
                            const VideoFacts& facts, spool::TimePoint now);

}  // namespace lipsyncd::daemon
