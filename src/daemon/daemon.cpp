#include "lipsyncd/daemon/daemon.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/daemon/fal_client_service.hpp"
#include "lipsyncd/daemon/fal_metrics_observer.hpp"
#include "lipsyncd/daemon/instance_lock.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/daemon/media_pipeline_work.hpp"
#include "lipsyncd/intake/folder_cleanup.hpp"
#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/observe/daemon_metrics.hpp"
#include "lipsyncd/observe/event_log.hpp"
#include "lipsyncd/observe/heartbeat.hpp"
#include "lipsyncd/observe/logging.hpp"
#include "lipsyncd/observe/metrics_server.hpp"
#include "lipsyncd/observe/systemd_notifier.hpp"
#include "lipsyncd/outbox/delivery.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {
namespace {

using namespace std::chrono_literals;
using spool::JobState;
using EventName = observe::EventName;

// How often the daemon looks at the store for work it did not start itself: deferred jobs
// that are due, budget holds that fit again, and `lipsyncd retry` from another process.
constexpr auto kPumpInterval = 500ms;
constexpr auto kClaimRetryDelay = 5s;

std::string stem_of(const std::filesystem::path& file) {
  // "clip.mp4" -> "clip"; "NAME.job.json" -> "NAME"
  auto stem = file.filename().string();
  for (const char* suffix : {".job.json"}) {
    if (stem.size() > std::strlen(suffix) && stem.ends_with(suffix)) {
      return stem.substr(0, stem.size() - std::strlen(suffix));
    }
  }
  return file.stem().string();
}

void make_folder(const std::filesystem::path& folder, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    throw Error("folder_unusable", "cannot create " + folder.string() + ": " + ec.message(),
                "create it or fix [paths] in the configuration");
  }
  ::chmod(folder.c_str(), mode);
}

}  // namespace

void create_folders(const PathsConfig& paths) {
  for (const auto* folder : {&paths.inbox, &paths.outbox, &paths.done, &paths.error}) {
    make_folder(*folder, 0755);
  }
  // The spool holds the users' inputs and the job store: nobody else's business.
  make_folder(paths.state, 0700);
}

class Daemon::Impl {
 public:
  Impl(Config config, DaemonOptions options)
      : options_(std::move(options)),
        config_(std::make_shared<const Config>(std::move(config))),
        cpu_(static_cast<std::size_t>(config_->daemon.max_parallel_prepare)),
        claims_(1) {}

  int run();

 private:
  void open_store_and_recover();
  void start_intake();
  void on_request(JobRequest request);
  void on_rejection(intake::Rejection rejection);
  void spawn(const spool::JobId& id);
  void pump();
  void schedule_pump();
  void release_budget_holds();
  void release_duplicate_waits();
  void watch_signals();
  void reload();
  void reopen_submissions();
  void begin_shutdown(const char* why);
  void drain(std::chrono::steady_clock::time_point deadline);
  void start_heartbeat();
  void start_watchdog();
  observe::Heartbeat heartbeat();
  observe::HealthStatus health() const;
  double oldest_job_age_seconds() const;
  void collect_gauges();
  void publish_status();
  void emit(const observe::JobEvent& event);
  bool wait_for_cpu_pool(std::chrono::steady_clock::time_point deadline);

  DaemonOptions options_;
  std::shared_ptr<const Config> config_;
  std::optional<InstanceLock> instance_lock_;
  boost::asio::io_context io_;
  boost::asio::thread_pool cpu_;     // media work, bounded by max_parallel_prepare
  boost::asio::thread_pool claims_;  // claims hash their inputs: off the loop, one at a time
  std::unique_ptr<spool::JobStore> store_;
  std::unique_ptr<MediaWork> media_;
  std::unique_ptr<FalService> fal_;
  std::unique_ptr<JobPipeline> pipeline_;
  std::unique_ptr<intake::InboxWatcher> watcher_;
  observe::SystemdNotifier notifier_;
  observe::MetricsRegistry metrics_registry_;
  observe::DaemonMetrics metrics_{metrics_registry_};
  std::unique_ptr<observe::MetricsServer> metrics_server_;
  boost::asio::signal_set signals_{io_, SIGTERM, SIGINT, SIGHUP};
  boost::asio::steady_timer pump_timer_{io_};
  boost::asio::steady_timer heartbeat_timer_{io_};
  boost::asio::steady_timer watchdog_timer_{io_};
  boost::asio::steady_timer drain_timer_{io_};
  std::set<spool::JobId> active_;
  std::string last_status_;
  bool watcher_live_ = false;
  bool shutting_down_ = false;
  int exit_code_ = 0;
};

Daemon::Daemon(Config config, DaemonOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}
Daemon::~Daemon() = default;
int Daemon::run() {
  return impl_->run();
}

int Daemon::Impl::run() {
  create_folders(config_->paths);
  // Before the store is opened: a second daemon must not even run recovery.
  instance_lock_.emplace(InstanceLock::acquire(instance_lock_file(config_->paths.state)));
  open_store_and_recover();
  media_ = std::make_unique<MediaPipelineWork>(config_);
  fal_ = std::make_unique<FalClientService>(io_.get_executor(), config_->fal,
                                            std::make_shared<FalMetricsObserver>(metrics_));
  pipeline_ = std::make_unique<JobPipeline>(
      PipelineContext{*store_, *media_, *fal_, io_.get_executor(), cpu_.get_executor(),
                      [this](const observe::JobEvent& event) { emit(event); },
                      [this](const std::string& stage, double seconds) {
                        metrics_.stage_duration.with({stage}).observe(seconds);
                      }},
      config_);
  metrics_registry_.add_collector([this] { collect_gauges(); });
  if (!config_->metrics.listen.empty()) {
    metrics_server_ = std::make_unique<observe::MetricsServer>(io_, metrics_registry_,
                                                               [this] { return health(); });
    metrics_server_->start(config_->metrics.listen);
    spdlog::info("metrics on http://{}/metrics", config_->metrics.listen);
  }
  watch_signals();
  start_intake();
  // READY first (the watcher is live now), then the status updates and watchdog pings.
  watcher_live_ = true;
  notifier_.ready(observe::status_line(heartbeat()));
  // Unfinished jobs first in line: recovery found them before intake could add new ones.
  pump();
  start_heartbeat();
  start_watchdog();
  spdlog::info("lipsyncd ready: watching {} (outbox {}, fal {})", config_->paths.inbox.string(),
               config_->paths.outbox.string(), config_->fal.queue_url);
  io_.run();
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<long long>(config_->daemon.shutdown_timeout_s * 1000));
  if (!wait_for_cpu_pool(deadline)) {
    // Media work writes only temporary files that are renamed when complete, and the job is
    // still `accepted` in the store: stopping now loses nothing, it is redone on next start.
    spdlog::warn(
        "media work still running after shutdown_timeout_s: exiting without it; the "
        "job is prepared again on next start");
    spdlog::default_logger()->flush();
    std::_Exit(exit_code_);
  }
  spdlog::info("lipsyncd stopped");
  return exit_code_;
}

void Daemon::Impl::open_store_and_recover() {
  spool::JobStoreSettings settings;
  settings.state_dir = config_->paths.state;
  settings.default_model = config_->fal.model;
  store_ = spool::open_job_store(settings);
  const auto recovery = store_->recover();
  for (const auto& id : recovery.reclaimed) {
    spdlog::info("job {}: claim interrupted by a crash, finished now", id);
  }
  if (recovery.removed_temporaries > 0 || recovery.tidied_folders > 0) {
    spdlog::info(
        "spool: removed {} temporary file(s) of interrupted writes and {} folder(s) of "
        "finished jobs",
        recovery.removed_temporaries, recovery.tidied_folders);
  }
  for (const auto* list : {&recovery.poll, &recovery.resume}) {
    for (const auto& job : *list) {
      {
        observe::JobEvent event;
        event.event = EventName::recovered;
        event.job_id = job.id;
        event.stage = JobPipeline::stage_name(job.stage());
        event.request_id = job.request_id;
        event.message = "resuming " + job.name + " at " + std::string(spool::to_string(job.state));
        emit(event);
      }
    }
  }
  for (const auto& job : recovery.needs_attention) {
    {
      observe::JobEvent event;
      event.event = EventName::held;
      event.job_id = job.id;
      event.stage = "submit";
      event.reason_code = "ambiguous_submit";
      event.message = "the daemon stopped while submitting " + job.name +
                      ": fal may or may not have the request, so it is not resent. Check fal's "
                      "dashboard, then `lipsyncd retry " +
                      job.id + "` or `lipsyncd cancel " + job.id + "`";
      event.severity = observe::Severity::error;
      emit(event);
    }
  }
  spdlog::info("job store {}: {} to poll, {} to resume, {} held, {} need attention",
               config_->paths.state.string(), recovery.poll.size(), recovery.resume.size(),
               recovery.held.size(), recovery.needs_attention.size());
}

void Daemon::Impl::start_intake() {
  intake::IntakeCallbacks callbacks;
  callbacks.on_request = [this](JobRequest request) { on_request(std::move(request)); };
  callbacks.on_rejection = [this](intake::Rejection rejection) {
    on_rejection(std::move(rejection));
  };
  // Intake pauses while the inbox is gone; the jobs already claimed go on.
  callbacks.on_watch_event = [this](std::string_view kind) {
    metrics_.watcher_events.with({std::string(kind)}).inc();
  };
  callbacks.on_inbox_change = [this](const intake::InboxAvailability& inbox) {
    if (inbox.available) {
      spdlog::info("intake resumed: the inbox {} is back", config_->paths.inbox.string());
    } else {
      spdlog::error("intake paused: {}", inbox.reason);
    }
    publish_status();
  };
  watcher_ = std::make_unique<intake::InboxWatcher>(io_, config_->paths.inbox, config_->intake,
                                                    std::move(callbacks));
  watcher_->start();
}

void Daemon::Impl::on_request(JobRequest request) {
  if (shutting_down_) return;  // left in the inbox: found again by the scan at next start
  // claim() reads every input to hash it: off the loop.
  boost::asio::post(claims_, [this, request = std::move(request)] {
    std::optional<spool::ClaimResult> claimed;
    std::optional<Error> failure;
    try {
      claimed = store_->claim(request);
      intake::remove_emptied_folders(request.folder, request.files());
    } catch (const Error& e) {
      failure = e;
    } catch (const std::exception& e) {
      failure = Error("claim_failed", e.what(), "", Permanence::transient);
    }
    boost::asio::post(io_, [this, request, claimed = std::move(claimed), failure] {
      if (claimed) {
        const auto& job = claimed->job;
        {
          observe::JobEvent event;
          event.event = EventName::accepted;
          event.job_id = job.id;
          event.stage = "intake";
          event.message = job.name + ": " + job.video.original_name() + " + " +
                          job.audio.original_name() + " (" + std::string(to_string(job.source)) +
                          ")" +
                          (claimed->copied_across_filesystems
                               ? "; the spool is on another filesystem: inputs were copied, "
                                 "fsynced and removed from the inbox"
                               : "");
          emit(event);
        }
        spawn(job.id);
        return;
      }
      if (failure && !failure->is_transient()) {
        spdlog::warn("intake: {} not claimed: {}", request.name, failure->what());
        return;
      }
      spdlog::warn("intake: {} not claimed yet ({}); trying again in {} s", request.name,
                   failure ? failure->what() : "unknown", kClaimRetryDelay.count());
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, kClaimRetryDelay);
      timer->async_wait([this, timer, files = request.files()](boost::system::error_code ec) {
        if (!ec && watcher_ && !shutting_down_) watcher_->reexamine(files);
      });
    });
  });
}

void Daemon::Impl::on_rejection(intake::Rejection rejection) {
  if (rejection.files.empty()) return;
  std::vector<outbox::InputFile> inputs;
  for (const auto& file : rejection.files) {
    // Lexically: relative() would resolve a symlink to wherever it points.
    inputs.push_back({file, file.lexically_relative(config_->paths.inbox).string()});
  }
  outbox::ErrorReport report;
  report.stage = "intake";
  report.reason_code = rejection.reason_code;
  report.message = rejection.message;
  report.hint = rejection.hint;
  try {
    const auto path = outbox::reject_inputs(inputs, config_->paths.error,
                                            stem_of(rejection.files.front()), report);
    intake::remove_emptied_folders(rejection.folder, rejection.files);
    {
      observe::JobEvent event;
      event.event = EventName::rejected;
      event.stage = "intake";
      event.reason_code = rejection.reason_code;
      event.message = rejection.message + " (moved to " + path.parent_path().string() + ")";
      emit(event);
    }
  } catch (const std::exception& e) {
    spdlog::error("intake: cannot move rejected files to {}: {}", config_->paths.error.string(),
                  e.what());
  }
}

void Daemon::Impl::spawn(const spool::JobId& id) {
  if (shutting_down_ || !active_.insert(id).second) return;
  boost::asio::co_spawn(io_, pipeline_->run(id), [this, id](std::exception_ptr failure) {
    active_.erase(id);
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        spdlog::error("job {}: pipeline stopped unexpectedly: {}", id, e.what());
      }
    }
    publish_status();
  });
}

void Daemon::Impl::pump() {
  if (shutting_down_) return;
  try {
    release_budget_holds();
    release_duplicate_waits();
    const auto now = store_->now();
    for (const auto& job : store_->unfinished()) {
      if (active_.contains(job.id)) continue;
      if (job.state == JobState::held || job.state == JobState::submitting) continue;
      if (job.state == JobState::deferred && job.next_attempt_at && *job.next_attempt_at > now) {
        continue;
      }
      spawn(job.id);
    }
  } catch (const std::exception& e) {
    spdlog::error("cannot read the job store: {}", e.what());
  }
  publish_status();
  schedule_pump();
}

void Daemon::Impl::schedule_pump() {
  pump_timer_.expires_after(kPumpInterval);
  pump_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) pump();
  });
}

void Daemon::Impl::release_budget_holds() {
  for (const auto& job : store_->held_for_budget()) {
    const double cost = job.plan ? job.plan->estimated_usd : 0;
    if (store_->ledger().would_exceed(config_->budget, cost, store_->now())) continue;
    store_->resume(job.id);
    {
      observe::JobEvent event;
      event.event = EventName::released;
      event.job_id = job.id;
      event.stage = JobPipeline::stage_name(job.stage());
      event.cost_usd = cost;
      event.message = "the budget allows it now";
      emit(event);
    }
  }
}

void Daemon::Impl::release_duplicate_waits() {
  for (const auto& job : store_->release_duplicate_waits()) {
    observe::JobEvent event;
    event.event = EventName::released;
    event.job_id = job.id;
    event.stage = "prepare";
    event.message = "its twin is finished: reusing its result, or going on alone if it failed";
    emit(event);
  }
}

void Daemon::Impl::watch_signals() {
  signals_.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      reload();
      watch_signals();
      return;
    }
    begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    watch_signals();  // a second signal during the drain is simply absorbed
  });
}

void Daemon::Impl::reload() {
  notifier_.reloading();
  try {
    auto fresh = options_.config_file ? load_config(*options_.config_file, current_environment())
                                      : default_config(current_environment());
    // Parsing is not enough: an empty or truncated file parses into defaults, and would
    // silently drop the budget caps.
    if (options_.config_file) check_reload(*config_, fresh);
    for (const auto& kept : keep_restart_only_settings(*config_, fresh)) {
      spdlog::warn("reload: {}", kept);
    }
    config_ = std::make_shared<const Config>(std::move(fresh));
    pipeline_->set_config(config_);
    static_cast<MediaPipelineWork&>(*media_).set_config(config_);
    watcher_->update_settings(config_->intake);
    spdlog::info("configuration reloaded{} (daily cap {}, monthly cap {}, log level {})",
                 options_.config_file ? " from " + options_.config_file->string() : "",
                 usd_text(config_->budget.daily_usd), usd_text(config_->budget.monthly_usd),
                 config_->log.level);
    // After the line above, so that a reload to "warn" still confirms itself.
    observe::set_log_level(config_->log);
  } catch (const std::exception& e) {
    spdlog::error("reload refused, keeping the running configuration: {}", e.what());
  }
  reopen_submissions();
  pump_timer_.cancel();
  pump();  // budget holds are re-checked against the new caps at once
  notifier_.ready(observe::status_line(heartbeat()));
}

void Daemon::Impl::reopen_submissions() {
  if (!pipeline_->reopen_submissions()) return;
  int waiting = 0;
  try {
    for (const auto& job : store_->unfinished()) {
      if (job.state != JobState::deferred || !job.error ||
          job.error->reason_code != kSubmissionsPausedReason) {
        continue;
      }
      store_->resume(job.id);
      ++waiting;
    }
  } catch (const std::exception& e) {
    spdlog::error("reload: cannot read the job store: {}", e.what());
  }
  spdlog::info(
      "reload: uploads and submits resume ({} waiting jobs go on); if fal still refuses the key "
      "they pause again",
      waiting);
}

void Daemon::Impl::begin_shutdown(const char* why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  spdlog::info(
      "{}: stopping intake, finishing submits and deliveries under way (up to {} s); "
      "jobs at fal are followed again on next start",
      why, config_->daemon.shutdown_timeout_s);
  notifier_.stopping("stopping");
  if (watcher_) watcher_->stop();
  if (metrics_server_) metrics_server_->stop();
  pipeline_->stop();
  pump_timer_.cancel();
  heartbeat_timer_.cancel();
  watchdog_timer_.cancel();
  drain(std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long long>(
                                               config_->daemon.shutdown_timeout_s * 1000)));
}

void Daemon::Impl::drain(std::chrono::steady_clock::time_point deadline) {
  if (pipeline_->in_critical_section() == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (pipeline_->in_critical_section() > 0) {
      spdlog::warn(
          "shutdown_timeout_s reached with {} submit(s) or deliveries under way; they "
          "are recovered on next start",
          pipeline_->in_critical_section());
    }
    io_.stop();
    return;
  }
  drain_timer_.expires_after(50ms);
  drain_timer_.async_wait([this, deadline](boost::system::error_code) { drain(deadline); });
}

bool Daemon::Impl::wait_for_cpu_pool(std::chrono::steady_clock::time_point deadline) {
  cpu_.stop();
  claims_.stop();
  std::mutex mutex;
  std::condition_variable joined;
  bool done = false;
  std::thread joiner([&] {
    cpu_.join();
    claims_.join();
    std::lock_guard lock(mutex);
    done = true;
    joined.notify_one();
  });
  std::unique_lock lock(mutex);
  const bool in_time = joined.wait_until(lock, deadline, [&] { return done; });
  lock.unlock();
  if (!in_time) {
    joiner.detach();
    return false;
  }
  joiner.join();
  return true;
}

void Daemon::Impl::start_heartbeat() {
  const auto interval = std::chrono::milliseconds(
      static_cast<long long>(std::max(1.0, config_->daemon.heartbeat_s) * 1000));
  heartbeat_timer_.expires_after(interval);
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    observe::log_heartbeat(heartbeat());
    start_heartbeat();
  });
}

void Daemon::Impl::start_watchdog() {
  const auto interval = notifier_.watchdog_interval();
  if (!interval) return;
  // Sent from the loop itself: a stuck loop stops the pings and systemd restarts us.
  notifier_.watchdog();
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) start_watchdog();
  });
}

observe::Heartbeat Daemon::Impl::heartbeat() {
  observe::Heartbeat beat;
  try {
    const auto counts = store_->count_by_state();
    const auto count = [&counts](JobState state) -> std::uint64_t {
      const auto it = counts.find(state);
      return it == counts.end() ? 0 : static_cast<std::uint64_t>(it->second);
    };
    beat.preparing = pipeline_ ? pipeline_->preparing() : 0;
    beat.at_fal = pipeline_ ? pipeline_->at_fal() : 0;
    const std::uint64_t working = beat.preparing + beat.at_fal;
    const std::uint64_t open = count(JobState::accepted) + count(JobState::prepared) +
                               count(JobState::uploaded) + count(JobState::submitting) +
                               count(JobState::submitted) + count(JobState::completed);
    beat.queued = open > working ? open - working : 0;
    beat.deferred = count(JobState::deferred);
    beat.held = count(JobState::held);
    for (const auto& [reason, held] : store_->count_held_by_reason()) {
      beat.held_by_reason[std::string(spool::to_string(reason))] = static_cast<std::uint64_t>(held);
    }
    const auto spend = store_->ledger().spend(store_->now());
    beat.spend_today_usd = spend.today_usd;
    beat.spend_month_usd = spend.this_month_usd;
    // Counted in the store, not over a page of status rows: every job finished today counts.
    const auto today = store_->count_by_state(std::chrono::floor<std::chrono::days>(store_->now()));
    const auto finished_today = [&today](JobState state) -> std::uint64_t {
      const auto it = today.find(state);
      return it == today.end() ? 0 : static_cast<std::uint64_t>(it->second);
    };
    beat.delivered_today = finished_today(JobState::delivered);
    beat.failed_today = finished_today(JobState::failed);
    beat.oldest_job_age_s = oldest_job_age_seconds();
  } catch (const std::exception& e) {
    spdlog::error("cannot read the job store for the status line: {}", e.what());
  }
  return beat;
}

observe::HealthStatus Daemon::Impl::health() const {
  const auto inbox = watcher_ ? watcher_->availability() : intake::InboxAvailability{};
  if (!inbox.available) return observe::HealthStatus{false, inbox.reason};
  const auto& paused = pipeline_->submission_gate().closure();
  if (paused) {
    return observe::HealthStatus{false, "submissions paused: fal refused the API key (" +
                                            paused->reason_code + ", job " + paused->job_id + ")"};
  }
  return observe::HealthStatus{watcher_live_ && !shutting_down_,
                               watcher_live_ ? "watcher live" : "watcher not running"};
}

// Since the oldest unfinished job (held and deferred ones included) was taken; 0 when none.
double Daemon::Impl::oldest_job_age_seconds() const {
  const auto since = store_->oldest_unfinished_since();
  if (!since) return 0;
  return std::max(0.0, std::chrono::duration<double>(store_->now() - *since).count());
}

// The gauges that mirror the job store, computed at each scrape: a handful of aggregate
// queries, so a scrape never walks the jobs one by one.
void Daemon::Impl::collect_gauges() {
  metrics_.healthy.set(health().ok ? 1 : 0);
  try {
    const auto counts = store_->count_by_state();
    for (const auto state : spool::kAllJobStates) {
      const auto it = counts.find(state);
      metrics_.jobs.with({std::string(spool::to_string(state))})
          .set(it == counts.end() ? 0 : it->second);
    }
    const auto held = store_->count_held_by_reason();
    for (const auto reason :
         {spool::HoldReason::budget, spool::HoldReason::ambiguous_submit,
          spool::HoldReason::operator_request, spool::HoldReason::duplicate_in_flight,
          spool::HoldReason::duplicate}) {
      const auto it = held.find(reason);
      metrics_.held_jobs.with({std::string(spool::to_string(reason))})
          .set(it == held.end() ? 0 : it->second);
    }
    // Paid results waiting for the outbox, by reason: loud until someone fixes the disk.
    const auto blocked = store_->count_by_reason(JobState::deferred, JobState::completed);
    for (const auto reason : {outbox::kDeliveryBlockedReason, std::string_view(kDiskFullReason)}) {
      const auto it = blocked.find(std::string(reason));
      metrics_.delivery_blocked.with({std::string(reason)})
          .set(it == blocked.end() ? 0 : it->second);
    }
    metrics_.oldest_job_age_seconds.set(oldest_job_age_seconds());
    const auto spend = store_->ledger().spend(store_->now());
    const auto budget = config_->budget;
    for (const auto& [period, spent, cap] :
         {std::tuple{"daily", spend.today_usd, budget.daily_usd},
          std::tuple{"monthly", spend.this_month_usd, budget.monthly_usd}}) {
      metrics_.period_spend_usd.with({period}).set(spent);
      if (cap > 0) {
        metrics_.budget_cap_usd.with({period}).set(cap);
        metrics_.budget_remaining_usd.with({period}).set(std::max(0.0, cap - spent));
      } else {  // no cap (or removed by a reload): no series, rather than a misleading 0
        metrics_.budget_cap_usd.remove({period});
        metrics_.budget_remaining_usd.remove({period});
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("cannot read the job store for /metrics: {}", e.what());
  }
}

void Daemon::Impl::publish_status() {
  if (shutting_down_) return;
  auto line = observe::status_line(heartbeat());
  if (watcher_ && !watcher_->availability().available) line = "intake paused, inbox gone; " + line;
  if (pipeline_ && pipeline_->submission_gate().closure()) {
    line = "submissions paused, fal refused the key; " + line;
  }
  if (line == last_status_) return;
  last_status_ = line;
  notifier_.status(line);
}

void Daemon::Impl::emit(const observe::JobEvent& event) {
  observe::log_event(event);
  metrics_.job_events.with({std::string(observe::to_string(event.event))}).inc();
  // A job's final outcome, once: the daemon is the only one that delivers, fails or rejects.
  if (event.event == EventName::delivered) metrics_.jobs_finished.with({"delivered", ""}).inc();
  if (event.event == EventName::failed || event.event == EventName::rejected) {
    metrics_.jobs_finished.with({std::string(observe::to_string(event.event)), event.reason_code})
        .inc();
  }
  // The estimate at the endpoint + model's rate, counted when it is paid for (the submit),
  // as the spend ledger counts it.
  if (event.event == EventName::submitted && event.cost_usd)
    metrics_.spend_usd.inc(*event.cost_usd);
}

}  // namespace lipsyncd::daemon
