#include "lipsyncd/daemon/daemon.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <optional>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/claim_dispatch.hpp"
#include "lipsyncd/daemon/fal_client_service.hpp"
#include "lipsyncd/daemon/fal_metrics_observer.hpp"
#include "lipsyncd/daemon/instance_lock.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/daemon/media_pipeline_work.hpp"
#include "lipsyncd/daemon/metrics_feed.hpp"
#include "lipsyncd/daemon/recovery_report.hpp"
#include "lipsyncd/daemon/reloader.hpp"
#include "lipsyncd/daemon/scheduler.hpp"
#include "lipsyncd/daemon/shutdown.hpp"
#include "lipsyncd/daemon/status_reporter.hpp"
#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/observe/daemon_metrics.hpp"
#include "lipsyncd/observe/event_log.hpp"
#include "lipsyncd/observe/metrics_server.hpp"
#include "lipsyncd/observe/systemd_notifier.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {
namespace {

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

// Wires the nouns together: the store, media work and fal behind the job pipeline; intake
// feeding the claim dispatch; the scheduler starting jobs; the status reporter, the reloader
// and the shutdown answering systemd and signals. Everything runs on the one loop.
class Daemon::Impl {
 public:
  Impl(Config config, DaemonOptions options)
      : config_(std::make_shared<const Config>(std::move(config))),
        reloader_(std::move(options.config_file)),
        cpu_(static_cast<std::size_t>(config_->daemon.max_parallel_prepare)),
        claims_(1) {}

  int run();

 private:
  void open_store_and_recover();
  void build_pipeline();
  void start_metrics_server();
  void start_intake();
  void watch_signals();
  void reload();
  void reopen_submissions();
  void begin_shutdown(const char* why);
  void start_heartbeat();
  void start_watchdog();
  Pauses pauses() const;
  void publish_status();
  void emit(const observe::JobEvent& event);

  std::shared_ptr<const Config> config_;
  Reloader reloader_;
  std::optional<InstanceLock> instance_lock_;
  boost::asio::io_context io_;
  boost::asio::thread_pool cpu_;     // media work, bounded by max_parallel_prepare
  boost::asio::thread_pool claims_;  // claims hash their inputs: off the loop, one at a time
  std::unique_ptr<spool::JobStore> store_;
  std::unique_ptr<MediaPipelineWork> media_;
  std::unique_ptr<FalService> fal_;
  std::unique_ptr<JobPipeline> pipeline_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ClaimDispatch> claims_dispatch_;
  std::unique_ptr<StatusReporter> status_;
  std::unique_ptr<intake::InboxWatcher> watcher_;
  observe::SystemdNotifier notifier_;
  observe::MetricsRegistry metrics_registry_;
  observe::DaemonMetrics metrics_{metrics_registry_};
  std::unique_ptr<observe::MetricsServer> metrics_server_;
  Shutdown shutdown_{io_, [this] { return pipeline_ ? pipeline_->in_critical_section() : 0; }};
  boost::asio::signal_set signals_{io_, SIGTERM, SIGINT, SIGHUP};
  boost::asio::steady_timer heartbeat_timer_{io_};
  boost::asio::steady_timer watchdog_timer_{io_};
  bool watcher_live_ = false;
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
  instance_lock_.emplace(InstanceLock::acquire(
      config_->paths.state, config_->fleet.node,
      config_->store.url.empty() ? StateFolderUse::one_daemon : StateFolderUse::one_per_node));
  open_store_and_recover();
  build_pipeline();
  start_metrics_server();
  watch_signals();
  start_intake();
  // READY first (the watcher is live now), then the status updates and watchdog pings.
  watcher_live_ = true;
  notifier_.ready(observe::status_line(status_->heartbeat()));
  // Unfinished jobs first in line: recovery found them before intake could add new ones.
  scheduler_->pump();
  start_heartbeat();
  start_watchdog();
  spdlog::info("lipsyncd ready: watching {} (outbox {}, fal {})", config_->paths.inbox.string(),
               config_->paths.outbox.string(), config_->fal.queue_url);
  io_.run();
  if (!join_before({&cpu_, &claims_}, shutdown_deadline(config_->daemon.shutdown_timeout_s))) {
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
  settings.inbox_dir = config_->paths.inbox;
  settings.url = store_connection_url(config_->store);
  settings.node = config_->fleet.node;
  settings.lease = std::chrono::seconds(config_->fleet.lease_s);
  store_ = spool::open_job_store(settings);
  status_ = std::make_unique<StatusReporter>(*store_, [this] {
    if (!pipeline_) return LiveWork{};
    return LiveWork{pipeline_->preparing(), pipeline_->at_fal()};
  });
  report_recovery(store_->recover(), config_->paths.state,
                  [this](const observe::JobEvent& event) { emit(event); });
}

void Daemon::Impl::build_pipeline() {
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
  scheduler_ = std::make_unique<Scheduler>(
      io_, *store_, [this](spool::JobId id) { return pipeline_->run(std::move(id)); },
      Scheduler::Hooks{.on_event = [this](const observe::JobEvent& event) { emit(event); },
                       .on_job_end =
                           [this] {
                             status_->invalidate();
                             publish_status();
                           },
                       .on_pumped = [this] { publish_status(); },
                       .on_taken_over = [this] { metrics_.leases_taken_over.inc(); }},
      config_->budget, pickup_capacity(*config_));
}

void Daemon::Impl::start_metrics_server() {
  metrics_registry_.add_collector([this] {
    collect_store_gauges(metrics_, *store_, config_->budget,
                         health_of(pauses(), watcher_live_, shutdown_.begun()));
  });
  if (config_->metrics.listen.empty()) return;
  metrics_server_ = std::make_unique<observe::MetricsServer>(io_, metrics_registry_, [this] {
    return health_of(pauses(), watcher_live_, shutdown_.begun());
  });
  metrics_server_->start(config_->metrics.listen);
  spdlog::info("metrics on http://{}/metrics", config_->metrics.listen);
}

void Daemon::Impl::start_intake() {
  claims_dispatch_ = std::make_unique<ClaimDispatch>(
      io_, claims_, *store_, config_->paths,
      ClaimDispatch::Hooks{.on_event = [this](const observe::JobEvent& event) { emit(event); },
                           .start_job = [this](const spool::JobId& id) { scheduler_->start(id); },
                           .reexamine =
                               [this](const std::vector<std::filesystem::path>& files) {
                                 if (watcher_) watcher_->reexamine(files);
                               }});
  intake::IntakeCallbacks callbacks;
  callbacks.on_request = [this](JobRequest request) {
    claims_dispatch_->on_request(std::move(request));
  };
  callbacks.on_rejection = [this](intake::Rejection rejection) {
    claims_dispatch_->on_rejection(rejection);
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

void Daemon::Impl::watch_signals() {
  signals_.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      reload();
    } else {
      begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    watch_signals();  // a second signal during the drain is simply absorbed
  });
}

void Daemon::Impl::reload() {
  notifier_.reloading();
  if (auto fresh = reloader_.reload(*config_)) {
    config_ = std::move(fresh);
    pipeline_->set_config(config_);
    media_->set_config(config_);
    watcher_->update_settings(config_->intake);
    scheduler_->set_budget(config_->budget);
    scheduler_->set_capacity(pickup_capacity(*config_));
  }
  reopen_submissions();
  status_->invalidate();
  scheduler_->pump();  // budget holds are re-checked against the new caps at once
  notifier_.ready(observe::status_line(status_->heartbeat()));
}

void Daemon::Impl::reopen_submissions() {
  if (!pipeline_->reopen_submissions()) return;
  int waiting = 0;
  try {
    waiting = resume_paused_submissions(*store_);
  } catch (const std::exception& e) {
    spdlog::error("reload: cannot read the job store: {}", e.what());
  }
  spdlog::info(
      "reload: uploads and submits resume ({} waiting jobs go on); if fal still refuses the key "
      "they pause again",
      waiting);
}

void Daemon::Impl::begin_shutdown(const char* why) {
  if (!shutdown_.begin()) return;
  spdlog::info(
      "{}: stopping intake, finishing submits and deliveries under way (up to {} s); "
      "jobs at fal are followed again on next start",
      why, config_->daemon.shutdown_timeout_s);
  notifier_.stopping("stopping");
  claims_dispatch_->stop();
  if (watcher_) watcher_->stop();
  if (metrics_server_) metrics_server_->stop();
  pipeline_->stop();
  scheduler_->stop();
  heartbeat_timer_.cancel();
  watchdog_timer_.cancel();
  shutdown_.drain(shutdown_deadline(config_->daemon.shutdown_timeout_s));
}

void Daemon::Impl::start_heartbeat() {
  const auto interval = std::chrono::milliseconds(
      static_cast<long long>(std::max(1.0, config_->daemon.heartbeat_s) * 1000));
  heartbeat_timer_.expires_after(interval);
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    observe::log_heartbeat(status_->heartbeat());
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

Pauses Daemon::Impl::pauses() const {
  Pauses pauses;
  if (watcher_) {
    if (const auto inbox = watcher_->availability(); !inbox.available) {
      pauses.inbox_gone = inbox.reason;
    }
  }
  if (scheduler_) pauses.store_unreachable = scheduler_->store_problem();
  if (pipeline_) {
    if (const auto& closure = pipeline_->submission_gate().closure()) {
      pauses.submissions_paused = closure->reason_code + ", job " + closure->job_id;
    }
  }
  return pauses;
}

void Daemon::Impl::publish_status() {
  if (shutdown_.begun()) return;
  if (const auto line = status_->status_update(pauses())) notifier_.status(*line);
}

void Daemon::Impl::emit(const observe::JobEvent& event) {
  observe::log_event(event);
  count_event(metrics_, event);
  // Every other event follows a change in the store: the next STATUS= line reads it again.
  if (status_ && event.event != observe::EventName::queue_position) status_->invalidate();
}

}  // namespace lipsyncd::daemon
