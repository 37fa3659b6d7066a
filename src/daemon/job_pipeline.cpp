#include "lipsyncd/daemon/job_pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/daemon/job_files.hpp"
#include "lipsyncd/daemon/job_sidecar.hpp"
#include "lipsyncd/outbox/delivery.hpp"

// GCC 12 reports -Wmismatched-new-delete for some Asio coroutine frames: it pairs the
// frame's sized operator delete (Asio's recycling allocator) with a plain ::operator new it
// inlined from elsewhere. The pair is Asio's own and matches; the warning is a false
// positive of GCC 12 with coroutine frames.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace lipsyncd::daemon {
namespace {

using boost::asio::awaitable;
using boost::asio::use_awaitable;
using spool::JobRecord;
using spool::JobState;
using EventName = observe::EventName;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

fal::LipsyncInput lipsync_input(const spool::JobPlan& plan, const spool::JobUploads& uploads) {
  return {uploads.video_url, uploads.audio_url, plan.model, std::string(to_string(plan.sync_mode))};
}

// Counts steps that a shutdown should let finish, so the drain can wait for them.
class JobPipeline::CriticalSection {
 public:
  explicit CriticalSection(std::size_t& counter) : counter_(counter) { ++counter_; }
  CriticalSection(const CriticalSection&) = delete;
  CriticalSection& operator=(const CriticalSection&) = delete;
  ~CriticalSection() { --counter_; }

 private:
  std::size_t& counter_;
};

JobPipeline::JobPipeline(PipelineContext context, std::shared_ptr<const Config> config)
    : context_(std::move(context)),
      config_(std::move(config)),
      prepare_slots_(context_.io, static_cast<std::size_t>(config_->daemon.max_parallel_prepare)),
      fal_slots_(context_.io, static_cast<std::size_t>(config_->fal.max_in_flight)) {}

void JobPipeline::set_config(std::shared_ptr<const Config> config) {
  config_ = std::move(config);
  prepare_slots_.set_limit(static_cast<std::size_t>(config_->daemon.max_parallel_prepare));
  fal_slots_.set_limit(static_cast<std::size_t>(config_->fal.max_in_flight));
}

std::string JobPipeline::stage_name(JobState state) {
  switch (state) {
    case JobState::accepted:
      return "prepare";
    case JobState::prepared:
      return "upload";
    case JobState::uploaded:
    case JobState::submitting:
      return "submit";
    case JobState::submitted:
      return "fal";
    case JobState::completed:
      return "deliver";
    case JobState::segmented:
      return "segments";
    default:
      return std::string(spool::to_string(state));
  }
}

void JobPipeline::emit(const observe::JobEvent& event) const {
  if (context_.on_event) context_.on_event(event);
}

void JobPipeline::stage_done(const std::string& stage, double seconds) const {
  if (context_.on_stage_done) context_.on_stage_done(stage, seconds);
}

awaitable<void> JobPipeline::run(spool::JobId id) {
  if (const auto wait = unrecorded_retry_at_.find(id); wait != unrecorded_retry_at_.end()) {
    if (std::chrono::steady_clock::now() < wait->second) co_return;
    unrecorded_retry_at_.erase(wait);
  }
  // The fal slot is held from the upload until the result is delivered, across steps.
  std::optional<SemaphoreUnit> fal_unit;
  for (;;) {
    if (stopping_) co_return;
    std::optional<JobRecord> job;
    std::exception_ptr failure;
    JobState acted_on = JobState::accepted;
    try {
      job = context_.store.find(id);
      if (!job || spool::is_final(job->state)) co_return;
      acted_on = job->state;
      switch (job->state) {
        case JobState::deferred:
          if (job->next_attempt_at && *job->next_attempt_at > context_.store.now()) co_return;
          context_.store.resume(id);
          continue;
        case JobState::held:
        case JobState::submitting:  // only after a crash: recovery parks it for a person
          co_return;
        case JobState::accepted:
          if (const auto guard = guard_duplicates(*job); guard != DuplicateGuard::proceed) {
            if (guard == DuplicateGuard::reused) continue;
            co_return;  // parked until its twin is finished (or a person decides)
          }
          co_await prepare(*job);
          continue;
        case JobState::prepared:
          if (!job->plan || !job->plan->is_long_form()) break;
          if (!start_segments(*job)) co_return;
          continue;
        case JobState::segmented:
          if (!co_await collect_segments(*job)) co_return;  // its segments are still running
          continue;
        default:
          break;
      }
      if (!fal_unit) {
        if (job->state == JobState::prepared) {
          // A segment's share of the budget was reserved with its parent's whole estimate.
          if (!job->is_segment() && hold_for_budget(*job)) co_return;
          co_await fal_slots_.acquire();
        } else {
          fal_slots_.acquire_now();  // already at fal (or done there): follow it regardless
        }
        fal_unit.emplace(fal_slots_);
        if (stopping_) co_return;
        continue;  // the job may have changed while waiting for the slot
      }
      if ((job->state == JobState::prepared || job->state == JobState::uploaded) &&
          gate_.closure()) {
        throw gate_.paused_error();
      }
      switch (job->state) {
        case JobState::prepared:
          co_await upload(*job);
          break;
        case JobState::uploaded:
          co_await submit(*job);  // checks the cap as it reserves, in one transaction
          break;
        case JobState::submitted:
          co_await follow(*job);
          break;
        case JobState::completed:
          if (job->is_segment()) {
            co_await deliver_segment(*job);
          } else {
            co_await deliver(*job);
          }
          break;
        default:
          co_return;
      }
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      handle_failure(id, acted_on, failure);
      co_return;
    }
  }
}

awaitable<void> JobPipeline::prepare(const JobRecord& job) {
  // A model the endpoint does not accept is refused before any work or money: fal would
  // answer 422 only after both uploads. Throws "unknown_model" (permanent: error/).
  const ModelChoice price = resolve_model(
      context_.fal.endpoint(), job.options.model.value_or(config_->fal.model), config_->prices);
  co_await prepare_slots_.acquire();
  SemaphoreUnit unit(prepare_slots_);
  if (stopping_) co_return;
  const auto started = std::chrono::steady_clock::now();
  const auto out_dir = job.spool_dir / "prepared";
  const auto requested = job.options.sync_mode ? job.options.sync_mode : config_->policy.forced;
  MediaWork& media = context_.media;
  // Named, and passed by reference: GCC 12 destroys lambda temporaries inside a co_await
  // expression twice.
  auto work = [&media, &job, &out_dir, &requested, &price] {
    std::filesystem::create_directories(out_dir);
    return media.prepare(job.video.path, job.audio.path, out_dir, requested, price);
  };
  const auto prepared = co_await on_cpu(work);
  const auto& plan = prepared.plan;
  context_.store.mark_prepared(job.id, plan);
  std::string message = "sync_mode " + std::string(to_string(plan.sync_mode)) + " (" + plan.reason +
                        "), output " + seconds_text(plan.output_s) + ", estimate " +
                        usd_text(plan.estimated_usd);
  if (plan.is_long_form()) {
    message += "; long-form: " + std::to_string(plan.segments.size()) + " segments";
  }
  for (const auto& warning : prepared.warnings) message += "; warning: " + warning;
  const double seconds = seconds_since(started);
  emit({.event = EventName::prepared,
        .job_id = job.id,
        .stage = stage_name(JobState::accepted),
        .seconds = seconds,
        .cost_usd = plan.estimated_usd,
        .message = message});
  stage_done("prepare", seconds);
}

awaitable<void> JobPipeline::upload(const JobRecord& job) {
  const auto started = std::chrono::steady_clock::now();
  const auto& plan = job.plan.value();
  const auto video = plan.normalized_video.empty() ? job.video.path : plan.normalized_video;
  const auto audio = plan.normalized_audio.empty() ? job.audio.path : plan.normalized_audio;
  spool::JobUploads uploads;
  uploads.video_url = co_await context_.fal.upload(video);
  uploads.audio_url = co_await context_.fal.upload(audio);
  context_.store.mark_uploaded(job.id, uploads);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(video, ec) + std::filesystem::file_size(audio, ec);
  const double seconds = seconds_since(started);
  emit({.event = EventName::uploaded,
        .job_id = job.id,
        .stage = stage_name(JobState::prepared),
        .bytes = bytes,
        .seconds = seconds});
  stage_done("upload", seconds);
}

awaitable<void> JobPipeline::submit(const JobRecord& job) {
  const auto& plan = job.plan.value();
  const auto input = lipsync_input(plan, job.uploads.value());
  // The endpoint may have changed since the plan (a restart with another one): fal would
  // refuse the model with a 422, so refuse it here, before the paid step.
  resolve_model(context_.fal.endpoint(), plan.model, config_->prices);
  CriticalSection critical(critical_);
  // The intent first: a crash from here until the request_id is stored leaves `submitting`,
  // which recovery parks for a person instead of paying twice.
  // The cap check that reserves the estimate in the same transaction: the check before the
  // upload only saves work, this one is what stops two processes spending the last dollar.
  try {
    // A segment reserves nothing: its parent reserved the whole purchase.
    context_.store.mark_submitting(
        job.id, context_.fal.endpoint(),
        job.is_segment() ? std::optional<BudgetConfig>() : std::optional(config_->budget));
  } catch (const spool::BudgetExceeded& exceeded) {
    hold_for(job, exceeded.breach());
    co_return;
  }
  const auto submit_started = std::chrono::steady_clock::now();
  const auto submission = co_await context_.fal.submit(input);
  co_await record_request(job.id, submission);
  stage_done("submit", seconds_since(submit_started));
  emit({.event = EventName::submitted,
        .job_id = job.id,
        .stage = stage_name(JobState::submitting),
        .request_id = submission.request_id,
        .cost_usd = plan.estimated_usd,
        .message = "submitted to " + context_.fal.endpoint() + " (model " +
                   (plan.model.empty() ? "field left out" : plan.model) + ", sync_mode " +
                   input.sync_mode + ")"});
}

awaitable<void> JobPipeline::record_request(const spool::JobId& id,
                                            const fal::Submission& submission) {
  // fal has the request and will bill it: this answer must reach the store, or the job is
  // left `submitting` and held for a person. A store that cannot be reached (a fleet's
  // database restarting) is waited for; a lost lease is not (the job's new holder holds it).
  for (int tries = 1;; ++tries) {
    try {
      context_.store.mark_submitted(id, submission.request_id, request_urls_of(submission));
      co_return;
    } catch (const Error& e) {
      if (e.reason_code() == spool::kLeaseLostReason) {
        // The job's new holder parks it as an ambiguous submit; this is the id to look for.
        spdlog::error(
            "job {}: fal accepted request {}, but {}: check that request on fal's "
            "dashboard before `lipsyncd retry {}`",
            id, submission.request_id, e.what(), id);
      }
      if (e.reason_code() != spool::kStoreUnreachableReason) throw;
      if (tries == 1 || tries % 30 == 0) {
        spdlog::error(
            "job {}: fal accepted request {} but the job store cannot record it ({}); "
            "trying again every second",
            id, submission.request_id, e.what());
      }
    }
    boost::asio::steady_timer pause(context_.io, std::chrono::seconds(1));
    co_await pause.async_wait(use_awaitable);
  }
}

awaitable<void> JobPipeline::follow(const JobRecord& job) {
  const auto& id = job.id;
  const auto request_id = job.request_id;
  std::function<void(const fal::Progress&)> on_progress =
      [this, id, request_id](const fal::Progress& progress) {
        if (progress.queue_position) {
          emit({.event = EventName::queue_position,
                .job_id = id,
                .stage = stage_name(JobState::submitted),
                .request_id = request_id,
                .queue_position = *progress.queue_position,
                .severity = observe::Severity::debug});
        }
        for (const auto& line : progress.new_logs) {
          spdlog::debug("job {} fal log: {}", id, line.message);
        }
      };
  const auto result = co_await context_.fal.wait_for_result(fal_request_of(job), on_progress);
  spool::JobResult stored;
  stored.url = result.url;
  stored.size_bytes = result.size_bytes.value_or(0);
  const auto completed = context_.store.mark_completed(id, stored);
  // From the submit to the result, across restarts: the store's clock, not this run's.
  const auto seconds = stage_seconds(completed, JobState::submitted, JobState::completed);
  emit({.event = EventName::completed,
        .job_id = id,
        .stage = stage_name(JobState::submitted),
        .request_id = request_id,
        .bytes = result.size_bytes,
        .seconds = seconds});
  if (seconds) stage_done("fal", *seconds);
}

awaitable<void> JobPipeline::download_result(const JobRecord& job) {
  const auto result_path = job.result_file();
  const auto& result = job.result.value();
  std::error_code ec;
  if (std::filesystem::exists(result_path, ec)) co_return;
  if (job.plan && job.plan->is_long_form()) {
    // Stitched before, and lost since (a failed check discarded it): the segments are kept.
    co_await stitch_result(job, context_.store.segments_of(job.id));
    co_return;
  }
  if (result.url.empty()) {
    throw Error("result_missing",
                "the result reused from job " + result.duplicate_of.value_or("?") +
                    " is no longer in the spool",
                "drop the inputs into the inbox again", Permanence::permanent);
  }
  const auto started = std::chrono::steady_clock::now();
  std::optional<std::uint64_t> size;
  if (result.size_bytes > 0) size = result.size_bytes;
  co_await context_.fal.download(result.url, result_path, size);
  spdlog::debug("job {} downloaded {} bytes in {:.3f} s", job.id,
                std::filesystem::file_size(result_path, ec), seconds_since(started));
}

awaitable<void> JobPipeline::deliver(const JobRecord& job) {
  const auto config = config_;  // one consistent snapshot for the whole delivery
  co_await download_result(job);
  CriticalSection critical(critical_);
  // A duplicate has no plan or request of its own: its twin's describe the same work.
  std::optional<JobRecord> twin;
  if (job.result->duplicate_of) twin = context_.store.find(*job.result->duplicate_of);
  const auto origin = origin_of(job, twin);

  const auto result_path = job.result_file();
  MediaWork& media = context_.media;
  const double expected_s = origin.plan.output_s;
  const double tolerance = std::max(0.5, expected_s * 0.05);
  VideoFacts facts;
  try {
    auto work = [&media, &result_path, expected_s, tolerance] {
      return outbox::verify_result(
          result_path, expected_s, tolerance,
          [&media](const std::filesystem::path& file) { return media.probe_video(file); });
    };
    facts = co_await on_cpu(work);
  } catch (const Error&) {
    outbox::discard_result(result_path);  // a bad download is fetched again next time
    throw;
  }

  // Delivery, then the record: every step finds its own earlier work after a crash, and the
  // spool copy of the result is removed only once recorded.
  auto sidecar = sidecar_for(job, origin, facts, context_.store.now());
  if (job.plan && job.plan->is_long_form()) {
    sidecar.segments = sidecar_segments(*job.plan, context_.store.segments_of(job.id));
  }
  const auto delivered =
      outbox::deliver({.verified = result_path,
                       .name = {job.options.output_name, config->intake.output_pattern, job.name},
                       .sidecar = sidecar,
                       .inputs = job_inputs(job),
                       .outbox = config->paths.outbox,
                       .done = config->paths.done});
  if (delivered.crossed_filesystems) {
    spdlog::info(
        "job {}: outbox or done/ is on another filesystem than the spool: files were "
        "copied, fsynced and the originals removed (not an atomic rename)",
        job.id);
  }
  const auto delivered_job =
      context_.store.mark_delivered(job.id, {delivered.video, delivered.sidecar});
  // Download, verification and the move into the outbox.
  if (const auto s = stage_seconds(delivered_job, JobState::completed, JobState::delivered)) {
    stage_done("deliver", *s);
  }
  std::error_code ec;
  std::filesystem::remove_all(job.spool_dir, ec);
  if (ec) {
    spdlog::warn("job {}: cannot remove spool folder {}: {}", job.id, job.spool_dir.string(),
                 ec.message());
  }
  emit({.event = EventName::delivered,
        .job_id = job.id,
        .stage = stage_name(JobState::completed),
        .request_id = sidecar.request_id,
        .bytes = std::filesystem::file_size(delivered.video, ec),
        .seconds = std::chrono::duration<double>(context_.store.now() - job.created_at).count(),
        .cost_usd = sidecar.estimated_cost_usd,
        .message = "delivered " + delivered.video.filename().string()});
}

bool JobPipeline::reopen_submissions() {
  if (!gate_.closure()) return false;
  gate_.open();
  return true;
}

}  // namespace lipsyncd::daemon
