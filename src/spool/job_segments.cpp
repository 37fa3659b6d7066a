// Long-form jobs, for every backend: a job whose output is longer than one fal request allows
// runs its segments as child jobs. The parent starts them in one transaction that reserves
// the whole purchase (so a job never stops half-paid for want of budget), waits in
// `segmented`, and takes its segments with it when it fails, is cancelled or is retried.

#include <cstdio>

#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::spool {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void throw_cannot_segment(const JobRecord& job, const std::string& why) {
  throw Error("illegal_transition", "job " + job.id + " cannot start segments: " + why,
              "this is a bug in lipsyncd: report it with the job's history", Permanence::permanent);
}

std::string two_digits(int index) {
  char text[16];
  std::snprintf(text, sizeof text, "%02d", index);
  return text;
}

// What a segment may have cost: fal has (or may have, the POST in flight) its request.
bool may_have_cost(const JobRecord& segment) {
  return segment.has_paid_request() || segment.submit_intent;
}

void create_folder(const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) {
    throw Error("disk_error",
                "cannot create the segment folder " + folder.string() + ": " + ec.message(),
                "check [paths] state and its free space", Permanence::transient);
  }
}

}  // namespace

JobId JobStore::segment_id(const JobId& parent, int index) {
  return parent + "-s" + two_digits(index);
}

JobRecord JobStore::segment_record(const JobRecord& parent, const SegmentPlan& segment,
                                   int count) const {
  const JobPlan& whole = *parent.plan;
  const double length_s = segment.end_s - segment.start_s;
  JobRecord child;
  child.id = segment_id(parent.id, segment.index);
  child.name = parent.name;  // the outputs are named by the parent
  child.source = parent.source;
  child.state = JobState::prepared;
  child.spool_dir = parent.spool_dir / "segments" / two_digits(segment.index);
  child.video = SpooledFile{segment.video, parent.video.original_path};
  child.audio = SpooledFile{segment.audio, parent.audio.original_path};
  child.options = parent.options;
  // No content hash: the duplicate guard never sees segments (their parent went through it).
  child.plan = JobPlan{
      .sync_mode = SyncMode::cut_off,  // both halves have exactly the segment's length
      .reason = "segment " + std::to_string(segment.index) + "/" + std::to_string(count) + " of " +
                parent.id,
      .model = whole.model,
      .video_s = length_s,
      .audio_s = length_s,
      .output_s = length_s,
      .estimated_usd = segment.estimated_usd,
      .normalized_video = segment.video,
      .normalized_audio = segment.audio,
      .usd_per_minute = whole.usd_per_minute,
      .segments = {},
  };
  child.segment = JobSegment{parent.id, segment.index, count, segment.start_s, segment.end_s};
  child.created_at = now();
  child.updated_at = child.created_at;
  child.entered_at[JobState::prepared] = child.created_at;
  return child;  // nobody's lease: any node may take it up
}

JobRecord JobStore::start_segments(const JobId& parent_id, const std::optional<BudgetConfig>& cap) {
  JobRecord parent;
  std::vector<JobRecord> inserted;
  try {
    in_transaction([&](Rows& rows) {
      auto loaded = rows.load(parent_id);
      if (!loaded) throw_unknown_job(parent_id);
      parent = std::move(*loaded);
      if (!parent.plan || !parent.plan->is_long_form()) {
        throw_cannot_segment(parent, "its plan has no segments");
      }
      const bool started_before = parent.state == JobState::segmented;
      if (started_before) {
        keep_lease(rows, parent);  // a retry after a crash: the segments exist (one transaction)
      } else {
        const double whole = parent.plan->estimated_usd;
        write_transition(
            rows, parent,
            std::to_string(parent.plan->segments.size()) + " segments, whole estimate " +
                usd_text(whole) + " reserved",
            [&](JobRecord& job, SpendLedger& spend) {
              if (job.state != JobState::prepared) {
                throw_cannot_segment(
                    job, "it is " + std::string(to_string(job.state)) + ", not prepared");
              }
              if (auto breach = spend.reserve(job.id, now(), whole, cap)) {
                throw BudgetExceeded(std::move(*breach));  // rolls the transaction back
              }
              return JobState::segmented;
            },
            LeaseRule::fenced);
      }
      const int count = static_cast<int>(parent.plan->segments.size());
      for (const auto& segment : parent.plan->segments) {
        const JobRecord child = segment_record(parent, segment, count);
        if (rows.load(child.id)) continue;  // inserted before
        create_folder(child.spool_dir);
        rows.insert(child);
        rows.append_event(
            child.id, JobEvent{child.created_at, std::nullopt, JobState::prepared,
                               child.plan->reason + ": " + seconds_text(segment.start_s) + " to " +
                                   seconds_text(segment.end_s) + ", est. " +
                                   usd_text(segment.estimated_usd)});
        inserted.push_back(child);
      }
    });
  } catch (const Error& e) {
    if (e.reason_code() == kLeaseLostReason) forget_lease(parent_id);
    throw;
  }
  remember_lease(parent);
  for (const auto& child : inserted) remember_lease(child);
  return parent;
}

JobRecord JobStore::fenced_with_segments(const JobId& id, const FamilyChange& change) {
  JobRecord job;
  std::vector<JobRecord> changed;
  try {
    in_transaction([&](Rows& rows) {
      auto loaded = rows.load(id);
      if (!loaded) throw_unknown_job(id);
      job = std::move(*loaded);
      changed.clear();
      std::vector<JobRecord> segments;
      if (job.plan && job.plan->is_long_form()) segments = rows.load_segments(id);
      change(rows, job, segments, changed);
    });
  } catch (const Error& e) {
    if (e.reason_code() == kLeaseLostReason) forget_lease(id);
    throw;
  }
  remember_lease(job);
  for (const auto& segment : changed) remember_lease(segment);
  return job;
}

void JobStore::write_transition(Rows& rows, JobRecord& job, const std::string& detail,
                                const Change& change, LeaseRule lease_rule) {
  const JobState from = apply_change(job, rows.ledger(), change, lease_rule);
  rows.update(job);
  rows.append_event(job.id, JobEvent{job.updated_at, from, job.state, detail});
}

void JobStore::keep_lease(Rows& rows, JobRecord& job) const {
  check_or_take_lease(job);
  settle_lease(job);
  rows.update(job);
}

void JobStore::settle_segmented_spend(SpendLedger& spend, const JobRecord& parent,
                                      const std::vector<JobRecord>& segments) const {
  // Only a job that reserved for its segments, and not one whose stitched result is known
  // (everything was bought; its billed amount, if any, stands).
  if (segments.empty() || !is_final(parent.state) || parent.result) return;
  double bought = 0;
  for (const auto& segment : segments) {
    if (!may_have_cost(segment)) continue;
    const auto billed = segment.result ? segment.result->billed_usd : std::nullopt;
    bought += billed.value_or(segment.plan ? segment.plan->estimated_usd : 0.0);
  }
  if (bought <= 0) {
    spend.release(parent.id);
    return;
  }
  // Counted in the period the whole purchase was reserved in.
  const auto reserved = parent.entered_at.find(JobState::segmented);
  spend.reserve(parent.id, reserved != parent.entered_at.end() ? reserved->second : now(), bought,
                std::nullopt);
}

}  // namespace lipsyncd::spool
