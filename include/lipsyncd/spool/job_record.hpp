#pragma once
// One job as the store knows it: where its files are, what was asked, what was decided, what
// fal said, and where it stands. Plain values; the store reads and writes them whole.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/core/job_request.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/spool/job_state.hpp"

namespace lipsyncd::spool {

using TimePoint = std::chrono::system_clock::time_point;

// Sortable by creation time, e.g. "20261125T060236.123Z-3f9a2c"; safe as a folder name.
using JobId = std::string;

// An input after the claim: where it lives now (inside the job's spool folder) and where the
// user put it, so error/ and done/ can give it back under its original name.
struct SpooledFile {
  std::filesystem::path path;           // absolute, inside state/spool/<job_id>/
  std::filesystem::path original_path;  // where it was in the inbox
  std::string original_name() const { return original_path.filename().string(); }
};

struct JobOptions {
  std::optional<std::string> model;
  std::optional<SyncMode> sync_mode;
  std::optional<std::string> output_name;
};

// One segment of a long-form job's plan: a part of the output timeline, cut out of the
// prepared inputs into a pair of the same length, sent to fal as its own (child) job.
struct SegmentPlan {
  int index = 0;  // 1-based
  double start_s = 0;
  double end_s = 0;          // on the parent's output timeline
  std::string cut_reason{};  // "pause at 540.2 s", "no pause within 30 s: cut at ..."
  double estimated_usd = 0;
  std::filesystem::path video{};  // the segment's prepared files, in the parent's spool folder
  std::filesystem::path audio{};
};

// The decision taken while preparing (set by mark_prepared).
struct JobPlan {
  SyncMode sync_mode = SyncMode::cut_off;
  std::string reason;  // "audio 0.53 s longer, video >= 2 s"
  std::string model;
  double video_s = 0;
  double audio_s = 0;
  double output_s = 0;
  double estimated_usd = 0;                // output_s / 60 x usd_per_minute
  std::filesystem::path normalized_video;  // inside the spool folder; empty when passed through
  std::filesystem::path normalized_audio;
  double usd_per_minute = 0;  // the endpoint + model's rate; 0 in records older than it
  // A long-form job (output longer than one fal request allows): its segments, each run as a
  // child job (JobStore::start_segments); estimated_usd is then the whole purchase.
  std::vector<SegmentPlan> segments{};  // {}: callers may leave it out of a braced initialiser

  bool is_long_form() const { return !segments.empty(); }
};

// fal storage URLs of the prepared inputs (set by mark_uploaded), needed to submit after a
// restart without uploading again.
struct JobUploads {
  std::string video_url;
  std::string audio_url;
};

// The URLs fal's submit answer gave for the request (fal-protocol.md §2: use them rather than
// building them). Empty where fal gave none; the client then builds the app-only form.
struct RequestUrls {
  std::string status;
  std::string response;
  std::string cancel;
};

// What fal produced (set by mark_completed).
struct JobResult {
  std::string url;
  std::uint64_t size_bytes = 0;
  std::optional<double> billed_usd;   // when fal reports billing; else the estimate stands
  std::optional<JobId> duplicate_of;  // filled by the duplicate guard instead of fal
};

struct JobError {
  std::string stage;  // "intake", "prepare", "upload", "submit", "poll", "deliver", ...
  std::string reason_code;
  std::string message;
  std::string hint;
};

// Fleet mode: which node works on the job. A node takes a job by writing its name and a
// token one higher than the last; every later write of that node must present the same token
// (fencing), so a node that lost the job while partitioned cannot act on it any more. Parked
// and final jobs carry no node: any node may take them up.
struct JobLease {
  std::string node;  // empty: nobody works on the job
  std::int64_t token = 0;
  std::optional<TimePoint> expires_at;  // renewed while the node is alive
};

// A long-form job's part (on the child's record): which parent, which segment.
struct JobSegment {
  JobId parent_id{};
  int index = 0;  // 1-based
  int count = 0;
  double start_s = 0;
  double end_s = 0;  // on the parent's output timeline
};

struct JobRecord {
  JobId id;
  std::string name;  // stem, names the outputs
  JobSource source = JobSource::same_stem;
  JobState state = JobState::accepted;
  std::optional<JobState> resume_state;  // deferred / held: where to continue
  std::optional<HoldReason> hold_reason;
  int attempts = 0;  // transient failures so far (each defer adds one)
  std::optional<TimePoint> next_attempt_at;

  std::filesystem::path spool_dir;  // state/spool/<id>/
  SpooledFile video;
  SpooledFile audio;
  std::vector<SpooledFile> extras;
  JobOptions options;
  std::string content_hash;  // sha256 over both inputs' bytes and the effective options

  std::optional<JobPlan> plan;
  std::optional<JobUploads> uploads;
  std::string endpoint;        // fal endpoint the job was (or is being) submitted to
  std::string request_id;      // set once fal answered the submit; then poll only, never resubmit
  RequestUrls request_urls;    // kept with the request id, so a restarted daemon follows them
  bool submit_intent = false;  // the POST may have been sent (true from submitting onwards)
  std::optional<JobResult> result;
  std::vector<std::filesystem::path> delivered_paths;
  std::optional<JobError> error;

  TimePoint created_at{};
  TimePoint updated_at{};                    // last transition
  std::map<JobState, TimePoint> entered_at;  // last time the job entered each state
  JobLease lease;
  std::optional<JobSegment> segment;  // set on a child job (a segment of a long-form job)

  // A segment of a long-form job: run like any job from `prepared`, paid for by its parent.
  bool is_segment() const { return segment.has_value(); }
  // The stage the job is in or waiting to return to (resume_state while deferred/held).
  JobState stage() const { return resume_state.value_or(state); }
  // Where fal's result is downloaded to (and kept until it is delivered).
  std::filesystem::path result_file() const { return spool_dir / "result.mp4"; }
  // Whether fal has (or may have) produced a result this job paid for: from then on the job is
  // only ever polled, downloaded and delivered, never submitted again.
  bool has_paid_request() const {
    return !request_id.empty() || (result.has_value() && !result->duplicate_of);
  }
};

// One row of the history table: every transition, in order.
struct JobEvent {
  TimePoint at{};
  std::optional<JobState> from;  // empty for the claim
  JobState to = JobState::accepted;
  std::string detail;  // human-readable: reason code + message, request id, ...
};

}  // namespace lipsyncd::spool
