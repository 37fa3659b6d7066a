#include "lipsyncd/daemon/job_pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <optional>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/durable_file.hpp"
#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/daemon/job_files.hpp"
#include "lipsyncd/daemon/retry_backoff.hpp"
#include "lipsyncd/fal/error.hpp"
#include "lipsyncd/outbox/delivery.hpp"
#include "lipsyncd/outbox/placement.hpp"
#include "lipsyncd/spool/spool_cleanup.hpp"

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

constexpr const char* kResultFileName = "result.mp4";

double seconds_between(spool::TimePoint from, spool::TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

std::optional<double> stage_seconds(const JobRecord& job, JobState from, JobState to) {
  const auto start = job.entered_at.find(from);
  const auto end = job.entered_at.find(to);
  if (start == job.entered_at.end() || end == job.entered_at.end()) return std::nullopt;
  return seconds_between(start->second, end->second);
}

std::string iso_utc(spool::TimePoint at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string output_file_name(const JobRecord& job, const Config& config) {
  if (job.options.output_name && !job.options.output_name->empty()) {
    // Only a file name: an output can never be placed outside the outbox.
    return std::filesystem::path(*job.options.output_name).filename().string();
  }
  return std::filesystem::path(outbox::output_name(config.intake.output_pattern, job.name))
      .filename()
      .string();
}

}  // namespace

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
    default:
      return std::string(spool::to_string(state));
  }
}

template <typename Work>
auto JobPipeline::on_cpu(Work& work) -> awaitable<decltype(work())> {
  using Result = decltype(work());
  // Hop to the pool, work, and hop back: the store and fal are only touched on the loop.
  co_await boost::asio::post(context_.cpu, use_awaitable);
  std::exception_ptr failure;
  std::optional<Result> result;
  try {
    result.emplace(work());
  } catch (...) {
    failure = std::current_exception();
  }
  co_await boost::asio::post(context_.io, use_awaitable);
  if (failure) std::rethrow_exception(failure);
  co_return std::move(*result);
}

void JobPipeline::emit(observe::JobEvent event) const {
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
    try {
      job = context_.store.find(id);
      if (!job || spool::is_final(job->state)) co_return;
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
        default:
          break;
      }
      if (!fal_unit) {
        if (job->state == JobState::prepared) {
          if (hold_for_budget(*job)) co_return;
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
          if (hold_for_budget(*job)) co_return;
          co_await submit(*job);
          break;
        case JobState::submitted:
          co_await follow(*job);
          break;
        case JobState::completed:
          co_await deliver(*job);
          break;
        default:
          co_return;
      }
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      handle_failure(id, failure);
      co_return;
    }
  }
}

JobPipeline::DuplicateGuard JobPipeline::guard_duplicates(const JobRecord& job) {
  const auto& config = *config_;
  const auto window =
      std::chrono::seconds(static_cast<long long>(config.intake.duplicate_window_h * 3600.0));
  // One store transaction decides, so parallel preparation can never let two copies through.
  const auto claim = context_.store.claim_content(job.id, window);
  switch (claim.verdict) {
    case spool::ContentVerdict::proceed:
      return DuplicateGuard::proceed;
    case spool::ContentVerdict::reuse_delivered:
      reuse_earlier_result(job, *claim.twin);
      return DuplicateGuard::reused;
    case spool::ContentVerdict::wait_for_twin:
      hold_as_duplicate(job, *claim.twin);
      return DuplicateGuard::parked;
  }
  return DuplicateGuard::proceed;
}

void JobPipeline::hold_as_duplicate(const JobRecord& job, const JobRecord& twin) {
  const bool wait = config_->intake.duplicate_in_flight == "wait";
  const auto reason = wait ? spool::HoldReason::duplicate_in_flight : spool::HoldReason::duplicate;
  const std::string same =
      "same inputs and options as job " + twin.id + " (" + twin.name + "), which is still at work";
  const std::string message =
      wait ? same + ": waiting for it to reuse its result, so the pair is paid once"
           : same + ": held so the pair is not paid twice. `lipsyncd retry " + job.id +
                 "` checks again (reusing the result once it is delivered), `lipsyncd cancel " +
                 job.id + "` drops it";
  context_.store.hold(job.id, reason, message);
  {
    observe::JobEvent event;
    event.event = EventName::held;
    event.job_id = job.id;
    event.stage = "prepare";
    event.reason_code = std::string(spool::to_string(reason));
    event.message = message;
    if (wait) event.severity = observe::Severity::info;  // nothing for a person to do
    emit(event);
  }
}

void JobPipeline::reuse_earlier_result(const JobRecord& job, const JobRecord& earlier) {
  const auto& earlier_video = earlier.delivered_paths.front();
  // A copy into the spool (not a link): the user may edit or delete the earlier output.
  try {
    durable_copy(earlier_video, job.spool_dir / kResultFileName);
  } catch (const Error& e) {
    if (e.reason_code() != kFileVanishedReason) throw;
    // Removed since the guard looked: the guard decides again at the next attempt.
    throw Error("duplicate_result_gone",
                "the result of job " + earlier.id + " (" + earlier_video.string() +
                    ") could not be read to reuse it",
                "nothing to do: the job decides again whether to wait, reuse or go to fal",
                Permanence::transient);
  }
  spool::JobResult result;
  result.size_bytes = std::filesystem::file_size(job.spool_dir / kResultFileName);
  result.duplicate_of = earlier.id;
  context_.store.mark_completed(job.id, result);
  {
    observe::JobEvent event;
    event.event = EventName::duplicate;
    event.job_id = job.id;
    event.stage = "prepare";
    event.message = "same inputs and options as job " + earlier.id + " (" +
                    earlier_video.filename().string() + "): reusing its result, nothing paid";
    emit(event);
  }
}

bool JobPipeline::hold_for_budget(const JobRecord& job) {
  const double cost = job.plan ? job.plan->estimated_usd : 0;
  const auto breach = context_.store.ledger().check(config_->budget, cost, context_.store.now());
  if (!breach) return false;
  // The state says "held" and the reason code "budget_exceeded": the message says why.
  const auto message =
      breach->message() + "; resumes when the period rolls over or the cap is raised (reload)";
  context_.store.hold(job.id, spool::HoldReason::budget, message);
  {
    observe::JobEvent event;
    event.event = EventName::held;
    event.job_id = job.id;
    event.stage = stage_name(job.state);
    event.reason_code = "budget_" + breach->period;
    event.cost_usd = cost;
    event.message = message;
    emit(event);
  }
  return true;
}

awaitable<void> JobPipeline::prepare(const JobRecord& job) {
  // A model the endpoint does not accept is refused before any work or money: fal would
  // answer 422 only after both uploads. Throws "unknown_model" (permanent: error/).
  const ModelChoice choice = resolve_model(
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
  auto work = [&media, &job, &out_dir, &requested] {
    std::filesystem::create_directories(out_dir);
    return media.prepare(job.video.path, job.audio.path, out_dir, requested);
  };
  const auto prepared = co_await on_cpu(work);
  spool::JobPlan plan;
  plan.sync_mode = prepared.sync_mode;
  plan.reason = prepared.sync_mode_reason;
  plan.model = choice.model;
  plan.video_s = prepared.video_s;
  plan.audio_s = prepared.audio_s;
  plan.output_s = prepared.output_s;
  plan.usd_per_minute = choice.usd_per_minute;
  plan.estimated_usd = estimate_usd(plan.output_s, choice.usd_per_minute);
  plan.normalized_video = prepared.video;
  plan.normalized_audio = prepared.audio;
  context_.store.mark_prepared(job.id, plan);
  std::string message = "sync_mode " + std::string(to_string(plan.sync_mode)) + " (" + plan.reason +
                        "), output " + seconds_text(plan.output_s) + ", estimate " +
                        usd_text(plan.estimated_usd);
  for (const auto& warning : prepared.warnings) message += "; warning: " + warning;
  {
    observe::JobEvent event;
    event.event = EventName::prepared;
    event.job_id = job.id;
    event.stage = "prepare";
    event.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    event.cost_usd = plan.estimated_usd;
    event.message = message;
    emit(event);
    stage_done("prepare", *event.seconds);
  }
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
  {
    observe::JobEvent event;
    event.event = EventName::uploaded;
    event.job_id = job.id;
    event.stage = "upload";
    event.bytes = bytes;
    event.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    emit(event);
    stage_done("upload", *event.seconds);
  }
}

awaitable<void> JobPipeline::submit(const JobRecord& job) {
  const auto& plan = job.plan.value();
  fal::LipsyncInput input;
  input.video_url = job.uploads.value().video_url;
  input.audio_url = job.uploads.value().audio_url;
  input.model = plan.model;
  input.sync_mode = std::string(to_string(plan.sync_mode));
  // The endpoint may have changed since the plan (a restart with another one): fal would
  // refuse the model with a 422, so refuse it here, before the paid step.
  resolve_model(context_.fal.endpoint(), plan.model, config_->prices);
  CriticalSection critical(critical_);
  // The intent first: a crash from here until the request_id is stored leaves `submitting`,
  // which recovery parks for a person instead of paying twice.
  context_.store.mark_submitting(job.id, context_.fal.endpoint());
  const auto submit_started = std::chrono::steady_clock::now();
  const auto submission = co_await context_.fal.submit(input);
  const auto& request_id = submission.request_id;
  context_.store.mark_submitted(job.id, request_id, request_urls_of(submission));
  stage_done(
      "submit",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - submit_started).count());
  {
    observe::JobEvent event;
    event.event = EventName::submitted;
    event.job_id = job.id;
    event.stage = "submit";
    event.request_id = request_id;
    event.cost_usd = plan.estimated_usd;
    event.message = "submitted to " + context_.fal.endpoint() + " (model " +
                    (plan.model.empty() ? "field left out" : plan.model) + ", sync_mode " +
                    input.sync_mode + ")";
    emit(event);
  }
}

awaitable<void> JobPipeline::follow(const JobRecord& job) {
  const auto& id = job.id;
  const auto request_id = job.request_id;
  std::function<void(const fal::Progress&)> on_progress =
      [this, id, request_id](const fal::Progress& progress) {
        if (progress.queue_position) {
          {
            observe::JobEvent event;
            event.event = EventName::queue_position;
            event.job_id = id;
            event.stage = "fal";
            event.request_id = request_id;
            event.queue_position = *progress.queue_position;
            event.severity = observe::Severity::debug;
            emit(event);
          }
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
  {
    observe::JobEvent event;
    event.event = EventName::completed;
    event.job_id = id;
    event.stage = "fal";
    event.request_id = request_id;
    event.bytes = result.size_bytes;
    // From the submit to the result, across restarts: the store's clock, not this run's.
    event.seconds = stage_seconds(completed, JobState::submitted, JobState::completed);
    emit(event);
    if (event.seconds) stage_done("fal", *event.seconds);
  }
}

awaitable<void> JobPipeline::deliver(const JobRecord& job) {
  const auto config = config_;  // one consistent snapshot for the whole delivery
  const auto result_path = job.result_file();
  const auto& result = job.result.value();
  std::error_code ec;
  if (!std::filesystem::exists(result_path, ec)) {
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
    spdlog::debug(
        "job {} downloaded {} bytes in {:.3f} s", job.id,
        std::filesystem::file_size(result_path, ec),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  CriticalSection critical(critical_);

  // A duplicate has no plan of its own: the earlier job's describes the same work.
  std::optional<JobRecord> earlier;
  if (result.duplicate_of) earlier = context_.store.find(*result.duplicate_of);
  const spool::JobPlan plan =
      job.plan ? *job.plan : (earlier && earlier->plan ? *earlier->plan : spool::JobPlan{});

  MediaWork& media = context_.media;
  const double tolerance = std::max(0.5, plan.output_s * 0.05);
  outbox::VideoFacts facts;
  try {
    auto work = [&media, &result_path, &plan, tolerance] {
      return outbox::verify_result(
          result_path, plan.output_s, tolerance,
          [&media](const std::filesystem::path& file) { return media.probe_video(file); });
    };
    facts = co_await on_cpu(work);
  } catch (const Error&) {
    outbox::discard_result(result_path);  // a bad download is fetched again next time
    throw;
  }

  outbox::Sidecar sidecar;
  sidecar.job_id = job.id;
  sidecar.request_id = result.duplicate_of && earlier ? earlier->request_id : job.request_id;
  sidecar.endpoint = job.endpoint.empty() && earlier ? earlier->endpoint : job.endpoint;
  sidecar.model = plan.model;
  sidecar.sync_mode = std::string(to_string(plan.sync_mode));
  sidecar.sync_mode_reason = plan.reason;
  for (const auto& input : job_inputs(job)) sidecar.inputs.push_back(input.original_name);
  sidecar.video_duration_s = plan.video_s;
  sidecar.audio_duration_s = plan.audio_s;
  sidecar.output_duration_s = facts.duration_s;
  // The estimate and what it came from, consistent with each other (a duplicate cost nothing).
  const double minutes = plan.output_s / 60.0;
  const double rate = plan.usd_per_minute > 0 ? plan.usd_per_minute
                      : minutes > 0           ? plan.estimated_usd / minutes
                                              : 0;
  sidecar.estimate_minutes = result.duplicate_of ? 0 : minutes;
  sidecar.usd_per_minute = rate;
  sidecar.estimated_cost_usd = result.duplicate_of ? 0 : estimate_usd(plan.output_s, rate);
  sidecar.duplicate_of = result.duplicate_of;
  const auto add_stage = [&](const char* name, JobState from, JobState to) {
    if (const auto s = stage_seconds(job, from, to)) sidecar.stage_seconds[name] = *s;
  };
  add_stage("prepare", JobState::accepted, JobState::prepared);
  add_stage("upload", JobState::prepared, JobState::uploaded);
  add_stage("submit", JobState::submitting, JobState::submitted);
  add_stage("fal", JobState::submitted, JobState::completed);
  if (const auto done = job.entered_at.find(JobState::completed); done != job.entered_at.end()) {
    sidecar.stage_seconds["deliver"] = seconds_between(done->second, context_.store.now());
  }

  // Delivery, then the record: every step finds its own earlier work after a crash, and the
  // spool copy of the result is removed only once recorded.
  const auto delivered =
      outbox::deliver({result_path, config->paths.outbox, output_file_name(job, *config), sidecar,
                       job_inputs(job), config->paths.done});
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
  std::filesystem::remove_all(job.spool_dir, ec);
  if (ec)
    spdlog::warn("job {}: cannot remove spool folder {}: {}", job.id, job.spool_dir.string(),
                 ec.message());
  {
    observe::JobEvent event;
    event.event = EventName::delivered;
    event.job_id = job.id;
    event.stage = "deliver";
    event.request_id = sidecar.request_id;
    event.bytes = std::filesystem::file_size(delivered.video, ec);
    event.seconds = seconds_between(job.created_at, context_.store.now());
    event.cost_usd = sidecar.estimated_cost_usd;
    event.message = "delivered " + delivered.video.filename().string();
    emit(event);
  }
}

bool JobPipeline::reopen_submissions() {
  if (!gate_.closure()) return false;
  gate_.open();
  return true;
}

void JobPipeline::handle_failure(const spool::JobId& id, std::exception_ptr failure) {
  std::optional<Failure> what;
  bool ambiguous = false;
  try {
    std::rethrow_exception(failure);
  } catch (const fal::FalError& e) {
    what = e.failure();
    ambiguous = e.kind() == fal::FalErrorKind::ambiguous_submit;
  } catch (const Error& e) {
    what = e.failure();
  } catch (const std::filesystem::filesystem_error& e) {
    what = disk_error("cannot use", e.path1(), e.code().value()).failure();
  } catch (const std::exception& e) {
    // Not one of ours (a bug): keep the job and try again later.
    what = Failure{"internal_error", e.what(), "see the daemon's log", Permanence::transient};
  }
  if (what->reason_code == "illegal_transition") {
    spdlog::info("job {}: changed by someone else meanwhile (cancel or retry); this run stops", id);
    return;
  }
  try {
    const auto job = context_.store.find(id);
    if (!job || spool::is_final(job->state)) return;
    const auto stage = stage_name(job->stage());
    spool::JobError error{stage, what->reason_code, what->message, what->hint};
    if (ambiguous) {
      // what->message already says that the submit may or may not have reached fal; the
      // reason lives in reason_code and hold_reason alone, so no line repeats it.
      const auto message = what->message +
                           "; not resent, to avoid paying twice. Check fal's dashboard, then "
                           "`lipsyncd retry " +
                           id + "` to submit again or `lipsyncd cancel " + id + "`";
      context_.store.hold(id, spool::HoldReason::ambiguous_submit, message);
      {
        observe::JobEvent event;
        event.event = EventName::held;
        event.job_id = id;
        event.stage = stage;
        event.reason_code = std::string(spool::to_string(spool::HoldReason::ambiguous_submit));
        event.message = message;
        event.severity = observe::Severity::error;
        emit(event);
      }
      return;
    }
    // A full disk, or an outbox lipsyncd may not write to, is nobody's fault and no reason to
    // give up a paid result: the job waits for the fix without using up its attempts.
    if (gate_.close_if_key_refused(id, *what)) {
      spdlog::error(
          "fal refused the API key ({}: {}): no job is uploaded or submitted until it is fixed "
          "and lipsyncd is reloaded (`systemctl reload lipsyncd`) or restarted; requests fal "
          "already has are still followed",
          what->reason_code, what->message);
    }
    const bool disk_full = what->reason_code == kDiskFullReason;
    const bool blocked = what->reason_code == outbox::kDeliveryBlockedReason;
    const bool paused = what->reason_code == kSubmissionsPausedReason;
    const bool waits_for_fix = disk_full || blocked || paused;
    const int attempts = job->attempts + (waits_for_fix ? 0 : 1);
    if (what->permanence == Permanence::transient &&
        (waits_for_fix || may_retry(attempts, config_->daemon))) {
      const auto retry_at =
          context_.store.now() + retry_delay(std::max(attempts, 1), config_->daemon);
      context_.store.defer(id, error, retry_at,
                           waits_for_fix ? spool::JobStore::AttemptCount::free
                                         : spool::JobStore::AttemptCount::counts);
      {
        observe::JobEvent event;
        event.event = EventName::deferred;
        event.job_id = id;
        event.stage = stage;
        event.request_id = job->request_id;
        event.reason_code = what->reason_code;
        event.retry_at = iso_utc(retry_at);
        const std::string progress =
            disk_full ? "waiting for free space"
            : blocked ? "the paid result waits in the spool until this is fixed: " + what->hint
            : paused  ? "waiting: " + what->hint
                      : "attempt " + std::to_string(attempts) + " of " +
                           std::to_string(config_->daemon.max_attempts);
        event.message = what->message + " (" + progress + ")";
        if (blocked) event.severity = observe::Severity::error;  // loud until a person acts
        emit(event);
      }
      return;
    }
    outbox::ErrorReport report;
    report.job_id = id;
    report.stage = stage;
    report.reason_code = what->reason_code;
    report.message = what->message;
    report.hint = what->hint;
    if (!job->request_id.empty()) report.request_id = job->request_id;
    const auto report_path =
        outbox::reject_inputs(job_inputs(*job), config_->paths.error, job->name, report);
    // Only what a retry needs stays in the spool (see spool_cleanup.hpp).
    spool::tidy_final_spool_folder(context_.store.fail(id, error));
    {
      observe::JobEvent event;
      event.event = EventName::failed;
      event.job_id = id;
      event.stage = stage;
      event.request_id = job->request_id;
      event.reason_code = what->reason_code;
      event.message = what->message + " (inputs and " + report_path.filename().string() + " in " +
                      config_->paths.error.string() + ")";
      emit(event);
    }
  } catch (const std::exception& e) {
    // The store or the disk refused even that: the job stays as it is and is retried later.
    const auto delay = retry_delay(1, config_->daemon);
    unrecorded_retry_at_[id] = std::chrono::steady_clock::now() + delay;
    spdlog::error("job {}: cannot record the failure ({}): {}; trying again in {} s", id,
                  what->message, e.what(),
                  std::chrono::duration_cast<std::chrono::seconds>(delay).count());
  }
}

}  // namespace lipsyncd::daemon
