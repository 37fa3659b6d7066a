#include "lipsyncd/daemon/job_sidecar.hpp"

#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/daemon/job_files.hpp"

namespace lipsyncd::daemon {

using spool::JobState;

ResultOrigin origin_of(const spool::JobRecord& job, const std::optional<spool::JobRecord>& twin) {
  const bool duplicate = job.result && job.result->duplicate_of;
  ResultOrigin origin{job.plan ? *job.plan : spool::JobPlan{}, job.request_id, job.endpoint};
  if (!twin) return origin;
  if (!job.plan && twin->plan) origin.plan = *twin->plan;
  if (duplicate) origin.request_id = twin->request_id;
  if (job.endpoint.empty()) origin.endpoint = twin->endpoint;
  return origin;
}

std::optional<double> stage_seconds(const spool::JobRecord& job, JobState from, JobState to) {
  const auto start = job.entered_at.find(from);
  const auto end = job.entered_at.find(to);
  if (start == job.entered_at.end() || end == job.entered_at.end()) return std::nullopt;
  return std::chrono::duration<double>(end->second - start->second).count();
}

std::vector<outbox::SidecarSegment> sidecar_segments(
    const spool::JobPlan& parent_plan, const std::vector<spool::JobRecord>& children) {
  std::vector<outbox::SidecarSegment> segments;
  for (const auto& child : children) {
    if (!child.segment) continue;
    outbox::SidecarSegment segment{
        .index = child.segment->index,
        .job_id = child.id,
        .request_id = child.request_id,
        .start_s = child.segment->start_s,
        .end_s = child.segment->end_s,
        .estimated_cost_usd = child.plan ? child.plan->estimated_usd : 0};
    for (const auto& planned : parent_plan.segments) {
      if (planned.index == segment.index) segment.cut_reason = planned.cut_reason;
    }
    for (const auto& [name, from, to] :
         {std::tuple{"upload", JobState::prepared, JobState::uploaded},
          std::tuple{"submit", JobState::submitting, JobState::submitted},
          std::tuple{"fal", JobState::submitted, JobState::completed},
          std::tuple{"download", JobState::completed, JobState::delivered}}) {
      if (const auto s = stage_seconds(child, from, to)) segment.stage_seconds[name] = *s;
    }
    segments.push_back(std::move(segment));
  }
  return segments;
}

outbox::Sidecar sidecar_for(const spool::JobRecord& job, const ResultOrigin& origin,
                            const VideoFacts& facts, spool::TimePoint now) {
  const auto& plan = origin.plan;
  const bool duplicate = job.result && job.result->duplicate_of;
  // The estimate and what it came from, consistent with each other (a duplicate cost nothing).
  const double minutes = plan.output_s / 60.0;
  const double rate = plan.usd_per_minute > 0 ? plan.usd_per_minute
                      : minutes > 0           ? plan.estimated_usd / minutes
                                              : 0;
  outbox::Sidecar sidecar{
      .job_id = job.id,
      .request_id = origin.request_id,
      .endpoint = origin.endpoint,
      .model = plan.model,
      .sync_mode = std::string(to_string(plan.sync_mode)),
      .sync_mode_reason = plan.reason,
      .video_duration_s = plan.video_s,
      .audio_duration_s = plan.audio_s,
      .output_duration_s = facts.duration_s,
      .estimated_cost_usd = duplicate ? 0 : estimate_usd(plan.output_s, rate),
      .estimate_minutes = duplicate ? 0 : minutes,
      .usd_per_minute = rate,
      .duplicate_of = job.result ? job.result->duplicate_of : std::nullopt,
  };
  for (const auto& input : job_inputs(job)) sidecar.inputs.push_back(input.original_name);
  for (const auto& [name, from, to] :
       {std::tuple{"prepare", JobState::accepted, JobState::prepared},
        std::tuple{"upload", JobState::prepared, JobState::uploaded},
        std::tuple{"submit", JobState::submitting, JobState::submitted},
        std::tuple{"fal", JobState::submitted, JobState::completed}}) {
    if (const auto s = stage_seconds(job, from, to)) sidecar.stage_seconds[name] = *s;
  }
  if (const auto done = job.entered_at.find(JobState::completed); done != job.entered_at.end()) {
    sidecar.stage_seconds["deliver"] = std::chrono::duration<double>(now - done->second).count();
  }
  return sidecar;
}

}  // namespace lipsyncd::daemon
