// JobPipeline's steps for long-form jobs: a pair longer than one fal request allows runs as
// child jobs, one per segment, each through the ordinary upload/submit/poll/download steps
// (and their rule against paying twice). The parent waits in `segmented`, then stitches.

#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/media/long_form_plan.hpp"
#include "lipsyncd/outbox/delivery.hpp"

// GCC 12 reports -Wmismatched-new-delete for some Asio coroutine frames (see job_pipeline.cpp).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace lipsyncd::daemon {
namespace {

using boost::asio::awaitable;
using spool::JobRecord;
using spool::JobState;
using EventName = observe::EventName;
using media::clock_text;

// "segment 2/3 (8:20.0–16:40.0)": how logs and error reports name a child job.
std::string segment_name(const JobRecord& child) {
  const auto& segment = child.segment.value();
  return "segment " + std::to_string(segment.index) + "/" + std::to_string(segment.count) + " (" +
         clock_text(segment.start_s) + "–" + clock_text(segment.end_s) + ")";
}

// A failed or cancelled segment fails the whole job: it cannot be delivered without it.
[[noreturn]] void throw_segment_failure(const JobRecord& child) {
  if (child.state == JobState::cancelled) {
    throw Error("segment_cancelled", segment_name(child) + " was cancelled",
                "a cancelled segment cannot run again: drop the files into the inbox again",
                Permanence::permanent);
  }
  const auto error = child.error.value_or(spool::JobError{});
  throw Error(error.reason_code.empty() ? "segment_failed" : error.reason_code,
              segment_name(child) + " failed: " + error.message,
              error.hint.empty() ? "`lipsyncd retry` the job: segments that are done or paid "
                                   "for are not submitted again"
                                 : error.hint,
              Permanence::permanent);
}

}  // namespace

bool JobPipeline::start_segments(const JobRecord& parent) {
  // The whole purchase must fit before the first segment is submitted, so a long job never
  // stops half-paid: the check here saves work, the store's reservation is the one that counts.
  if (hold_for_budget(parent)) return false;
  JobRecord started;
  try {
    started = context_.store.start_segments(parent.id, config_->budget);
  } catch (const spool::BudgetExceeded& exceeded) {
    hold_for(parent, exceeded.breach());
    return false;
  }
  const auto& plan = started.plan.value();
  spdlog::info(
      "job {}: {} segments run as jobs {}-s01 to {}-s{:02}; the whole estimate of {} is "
      "reserved",
      parent.id, plan.segments.size(), parent.id, parent.id, plan.segments.size(),
      usd_text(plan.estimated_usd));
  return true;
}

awaitable<bool> JobPipeline::collect_segments(const JobRecord& parent) {
  const auto children = context_.store.segments_of(parent.id);
  std::size_t delivered = 0;
  for (const auto& child : children) {
    if (child.state == JobState::failed || child.state == JobState::cancelled) {
      throw_segment_failure(child);
    }
    if (child.state == JobState::held && child.hold_reason == spool::HoldReason::ambiguous_submit) {
      const auto message =
          segment_name(child) + ": " + child.error.value_or(spool::JobError{}).message;
      context_.store.hold(parent.id, spool::HoldReason::ambiguous_submit, message);
      emit({.event = EventName::held,
            .job_id = parent.id,
            .stage = stage_name(JobState::segmented),
            .reason_code = std::string(spool::to_string(spool::HoldReason::ambiguous_submit)),
            .message = message,
            .severity = observe::Severity::error});
      co_return false;
    }
    if (child.state == JobState::delivered) ++delivered;
  }
  if (children.empty() || delivered < children.size()) co_return false;
  co_await stitch_result(parent, children);
  spool::JobResult stitched;
  std::error_code ec;
  stitched.size_bytes = std::filesystem::file_size(parent.result_file(), ec);
  context_.store.mark_completed(parent.id, stitched);
  co_return true;
}

awaitable<void> JobPipeline::stitch_result(const JobRecord& parent,
                                           const std::vector<JobRecord>& children) {
  const auto& plan = parent.plan.value();
  StitchWork work{.audio = plan.normalized_audio, .expected_s = plan.output_s};
  for (const auto& child : children) {
    work.segments.push_back(child.result_file());
    work.planned_s.push_back(child.segment->end_s - child.segment->start_s);
  }
  const auto started = std::chrono::steady_clock::now();
  const auto destination = parent.result_file();
  MediaWork& media = context_.media;
  auto stitch = [&media, &work, &destination] { return media.stitch(work, destination); };
  const auto summary = co_await on_cpu(stitch);
  spdlog::info(
      "job {}: {} segments stitched in {:.1f} s ({}), {} of video, worst seam offset {:.3f} s",
      parent.id, children.size(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
      summary.reencoded ? "re-encoded: " + summary.reencode_reason : "without re-encoding",
      seconds_text(summary.duration_s), summary.worst_seam_offset_s);
}

awaitable<void> JobPipeline::deliver_segment(const JobRecord& child) {
  co_await download_result(child);
  const auto result_path = child.result_file();
  const double expected_s = child.plan.value().output_s;
  // The stitcher holds each segment to its plan within a frame; this only catches a download
  // that is not the video at all, so that it is fetched again rather than stitched.
  const double tolerance = std::max(0.5, expected_s * 0.05);
  MediaWork& media = context_.media;
  try {
    auto work = [&media, &result_path, expected_s, tolerance] {
      return outbox::verify_result(
          result_path, expected_s, tolerance,
          [&media](const std::filesystem::path& file) { return media.probe_video(file); });
    };
    co_await on_cpu(work);
  } catch (const Error&) {
    outbox::discard_result(result_path);
    throw;
  }
  context_.store.mark_delivered(child.id, {result_path});
  spdlog::info("job {}: {} is ready (request {})", child.segment->parent_id, segment_name(child),
               child.request_id);
}

}  // namespace lipsyncd::daemon
