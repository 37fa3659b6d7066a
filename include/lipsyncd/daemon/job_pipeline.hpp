#pragma once
// Drives one job through the spool's state machine: prepare (on the bounded CPU pool), upload,
// submit, follow, download, verify, deliver. Each transition is committed to the store BEFORE
// its side effect; the submit intent is stored before the POST and the request_id as soon as
// it returns; a job with a request_id is only ever polled; an ambiguous submit parks the job
// for a person. Transient failures defer the job with backoff, final ones send it to error/.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/daemon/async_semaphore.hpp"
#include "lipsyncd/daemon/fal_service.hpp"
#include "lipsyncd/daemon/media_work.hpp"
#include "lipsyncd/daemon/submission_gate.hpp"
#include "lipsyncd/observe/job_event.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

using EventSink = std::function<void(const observe::JobEvent&)>;
// How long a job spent in a stage ("prepare", "upload", "submit", "fal", "deliver"), once the
// stage is done; the daemon feeds lipsyncd_stage_duration_seconds with it.
using StageTimer = std::function<void(const std::string& stage, double seconds)>;

struct PipelineContext {
  spool::JobStore& store;
  MediaWork& media;
  FalService& fal;
  boost::asio::any_io_executor io;   // the event loop; the store and fal are used only here
  boost::asio::any_io_executor cpu;  // the bounded pool for media work
  EventSink on_event;
  StageTimer on_stage_done{};
};

// Whether someone else (`lipsyncd cancel`, `retry`) changed a job while a step worked on it:
// it is neither in the state the step started from (`acted_on`) nor in one the step itself
// moved it to. Then the step's failure is not the job's: the run stops and records nothing.
bool changed_meanwhile(spool::JobState acted_on, spool::JobState now) noexcept;

class JobPipeline {
 public:
  JobPipeline(PipelineContext context, std::shared_ptr<const Config> config);

  // SIGHUP reload: later steps use the new settings; the concurrency limits follow.
  void set_config(std::shared_ptr<const Config> config);

  // Runs the job from its stored state until it is delivered, failed, parked (deferred or
  // held) or the pipeline stops. Never throws: every failure becomes a transition.
  boost::asio::awaitable<void> run(spool::JobId id);

  // No new step starts after this; running jobs return at their next step boundary.
  void stop() { stopping_ = true; }
  bool stopping() const noexcept { return stopping_; }

  std::size_t preparing() const noexcept { return prepare_slots_.in_use(); }
  std::size_t at_fal() const noexcept { return fal_slots_.in_use(); }
  // Steps that should not be cut short by a shutdown (the submit round trip, the delivery).
  std::size_t in_critical_section() const noexcept { return critical_; }

  // Closed once fal refused the API key: no job is uploaded or submitted until it is opened.
  const SubmissionGate& submission_gate() const noexcept { return gate_; }
  // A person fixed the key or the account (SIGHUP): waiting jobs go on. True when it was closed.
  bool reopen_submissions();

  // The stage a state belongs to, as logs and error reports name it ("prepare", "upload",...).
  static std::string stage_name(spool::JobState state);

 private:
  class CriticalSection;

  boost::asio::awaitable<void> prepare(const spool::JobRecord& job);
  boost::asio::awaitable<void> upload(const spool::JobRecord& job);
  boost::asio::awaitable<void> submit(const spool::JobRecord& job);
  // Stores fal's request id, waiting out a store that cannot be reached.
  boost::asio::awaitable<void> record_request(const spool::JobId& id,
                                              const fal::Submission& submission);
  boost::asio::awaitable<void> follow(const spool::JobRecord& job);
  boost::asio::awaitable<void> deliver(const spool::JobRecord& job);
  // Fetches fal's result into the spool unless it is there already (a reused twin's, or a
  // download before a crash).
  boost::asio::awaitable<void> download_result(const spool::JobRecord& job);

  // Long-form jobs (long_form_steps.cpp). A parent at `prepared` becomes `segmented` with
  // one child job per segment, its whole estimate reserved at once; false when it was held for
  // the budget instead.
  bool start_segments(const spool::JobRecord& parent);
  // A `segmented` parent: stitched and completed once every segment is delivered (true), held
  // when a segment's submit was ambiguous, failed (throws, naming the segment) when one
  // failed; false while it waits.
  boost::asio::awaitable<bool> collect_segments(const spool::JobRecord& parent);
  // Joins the parent's segment results into its result file, checked.
  boost::asio::awaitable<void> stitch_result(const spool::JobRecord& parent,
                                             const std::vector<spool::JobRecord>& children);
  // A segment's result, downloaded and checked into its own spool folder for the parent.
  boost::asio::awaitable<void> deliver_segment(const spool::JobRecord& child);

  // The duplicate guard, at `accepted`: reuses a delivered twin's result, parks the job while
  // a twin is in flight ([intake] duplicate_in_flight), or lets it proceed to prepare.
  enum class DuplicateGuard { proceed, reused, parked };
  DuplicateGuard guard_duplicates(const spool::JobRecord& job);
  void reuse_earlier_result(const spool::JobRecord& job, const spool::JobRecord& earlier);
  void hold_as_duplicate(const spool::JobRecord& job, const spool::JobRecord& twin);
  // Holds the job when its estimate would break a budget cap; true when held. Only saves the
  // upload: the submit's own reservation is the check that counts.
  bool hold_for_budget(const spool::JobRecord& job);
  void hold_for(const spool::JobRecord& job, const spool::BudgetBreach& breach);
  // Turns a failure of the step that started from `acted_on` into deferred / held / failed
  // (+ error/), or nothing when the job was cancelled, retried or finished meanwhile.
  void handle_failure(const spool::JobId& id, spool::JobState acted_on, std::exception_ptr failure);

  template <typename Work>
  auto on_cpu(Work& work) -> boost::asio::awaitable<decltype(work())>;

  void emit(const observe::JobEvent& event) const;
  void stage_done(const std::string& stage, double seconds) const;

  PipelineContext context_;
  std::shared_ptr<const Config> config_;
  AsyncSemaphore prepare_slots_;
  AsyncSemaphore fal_slots_;
  std::size_t critical_ = 0;
  bool stopping_ = false;
  SubmissionGate gate_;
  // Jobs whose failure the store could not even record (its disk is full): not retried before
  // this time, so a full disk is not hammered every pump.
  std::unordered_map<spool::JobId, std::chrono::steady_clock::time_point> unrecorded_retry_at_;
};

template <typename Work>
auto JobPipeline::on_cpu(Work& work) -> boost::asio::awaitable<decltype(work())> {
  using Result = decltype(work());
  // Hop to the pool, work, and hop back: the store and fal are only touched on the loop.
  co_await boost::asio::post(context_.cpu, boost::asio::use_awaitable);
  std::exception_ptr failure;
  std::optional<Result> result;
  try {
    result.emplace(work());
  } catch (...) {
    failure = std::current_exception();
  }
  co_await boost::asio::post(context_.io, boost::asio::use_awaitable);
  if (failure) std::rethrow_exception(failure);
  co_return std::move(*result);
}

}  // namespace lipsyncd::daemon
