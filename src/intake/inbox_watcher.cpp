#include "lipsyncd/intake/inbox_watcher.hpp"

#include <sys/inotify.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "inbox_watcher_impl.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/intake/declared_end.hpp"
#include "lipsyncd/intake/file_pairing.hpp"

namespace lipsyncd::intake {
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

SteadyClock::duration seconds_to_duration(double seconds) {
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

InboxWatcher::Impl::Impl(asio::io_context& io, fs::path inbox, IntakeConfig settings,
                         IntakeCallbacks callbacks, std::shared_ptr<IntakeClock> clock)
    : inbox_(std::move(inbox)),
      settings_(std::move(settings)),
      callbacks_(std::move(callbacks)),
      clock_(clock ? std::move(clock) : steady_intake_clock(io)),
      io_(io),
      evaluate_timer_(clock_->make_timer()),
      rescan_timer_(clock_->make_timer()),
      probe_timer_(clock_->make_timer()) {}

void InboxWatcher::Impl::start() {
  std::error_code ec;
  inbox_ = fs::canonical(inbox_, ec);
  if (ec || !fs::is_directory(inbox_)) {
    throw Error("inbox_unwatchable", "the inbox " + inbox_.string() + " is not a folder",
                "create it or fix [paths] inbox", Permanence::permanent);
  }
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    throw Error("inbox_unwatchable",
                std::string("cannot start watching the inbox: ") + std::strerror(errno),
                "raise fs.inotify.max_user_instances", Permanence::transient);
  }
  stream_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  if (const auto failure = watch(inbox_)) {
    throw Error("inbox_unwatchable", failure->message, failure->hint, Permanence::transient);
  }
  running_ = true;
  inbox_identity_ = identity_of(inbox_);
  // Watches first, then the scan: a file written in between is seen at least once.
  scan(inbox_, Arrival::found, "scan_found");
  read_events();
  schedule_rescan();
  evaluate();
}

void InboxWatcher::Impl::stop() {
  running_ = false;
  evaluate_timer_->cancel();
  rescan_timer_->cancel();
  probe_timer_->cancel();
  if (stream_) {
    boost::system::error_code ignored;
    stream_->close(ignored);
  }
  watches_.clear();
}

void InboxWatcher::Impl::rescan() {
  if (!running_) return;
  if (!available_) return probe_inbox();  // a rescan also looks whether it is back
  if (identity_of(inbox_) != inbox_identity_) {
    // Gone without an event (a network share, a lazy unmount) or replaced under us.
    return lose_inbox("is gone or was replaced by another folder");
  }
  scan(inbox_, Arrival::found, "rescan_found");
  evaluate();
}

void InboxWatcher::Impl::reexamine(const std::vector<fs::path>& files) {
  for (const auto& file : files) {
    handed_out_.erase(file);
    track(file, Arrival::found, true);
  }
  if (running_) schedule_evaluation(std::chrono::milliseconds(0));
}

void InboxWatcher::Impl::update_settings(const IntakeConfig& settings) {
  settings_ = settings;
  if (running_) {
    schedule_rescan();
    schedule_evaluation(std::chrono::milliseconds(0));
  }
}

// ── settling and pairing ──────────────────────────────────────────────────────────────────

// Starts following `path` unless it is followed already or was dealt with in this version.
TrackedFile* InboxWatcher::Impl::track(const fs::path& path, Arrival arrival, bool force) {
  if (!available_) return nullptr;
  if (auto it = tracked_.find(path); it != tracked_.end()) return &it->second;
  const auto entry = look_at(path);
  if (!force && entry.kind != EntryKind::missing) {
    const auto same_version = [&](const std::map<fs::path, FileVersion>& verdicts) {
      const auto it = verdicts.find(path);
      return it != verdicts.end() && it->second == entry.version;
    };
    if (same_version(handed_out_) || same_version(rejected_)) return nullptr;
  }
  return &tracked_.emplace(path, TrackedFile{SettleRule(entry.version, clock_->now(), arrival), {}})
              .first->second;
}

void InboxWatcher::Impl::schedule_evaluation(SteadyClock::duration delay) {
  const auto when = clock_->now() + delay;
  if (evaluation_due_ && *evaluation_due_ <= when) return;
  evaluation_due_ = when;
  auto self = weak_from_this();
  evaluate_timer_->wait_until(when, [self] {
    if (auto impl = self.lock()) {
      impl->evaluation_due_.reset();
      impl->evaluate();
    }
  });
}

void InboxWatcher::Impl::schedule_rescan() {
  rescan_timer_->cancel();
  if (settings_.rescan_interval_s <= 0) return;
  auto self = weak_from_this();
  rescan_timer_->wait_until(clock_->now() + seconds_to_duration(settings_.rescan_interval_s),
                            [self] {
                              if (auto impl = self.lock(); impl && impl->running_) {
                                impl->rescan();
                                impl->schedule_rescan();
                              }
                            });
}

SettleTimes InboxWatcher::Impl::times() const {
  return SettleTimes{seconds_to_duration(settings_.settle_s)};
}

void InboxWatcher::Impl::evaluate() {
  if (!running_ || !available_) return;
  const auto now = clock_->now();
  std::vector<InboxFile> files;
  std::vector<Rejection> unreadable;  // links and special files: never opened
  SteadyClock::duration next_check = SteadyClock::duration::max();
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    const auto& path = it->first;
    const auto entry = look_at(path);
    if (entry.kind != EntryKind::regular) {
      if (auto rejection = rejection_for_unreadable(path, entry)) {
        rejected_[path] = entry.version;
        unreadable.push_back(std::move(*rejection));
      }
      it = tracked_.erase(it);  // gone, or not a file we may read
      continue;
    }
    TrackedFile& file = it->second;
    const bool settled = file.rule.settled(entry.version, now, times(),
                                           [&path] { return declares_its_own_end(path); });
    if (settled) {
      if (!file.settled_since) file.settled_since = now;
    } else {
      file.settled_since.reset();
      next_check = std::min(next_check, file.rule.recheck_after(times()));
    }
    files.push_back({path, file.settled_since.has_value(), file.settled_since.value_or(now)});
    ++it;
  }
  PairingOutcome outcome =
      pair_files(inbox_, files, now, seconds_to_duration(settings_.partner_wait_s));
  if (outcome.next_deadline) {
    next_check = std::min(next_check, *outcome.next_deadline - now);
  }
  for (const auto& request : outcome.requests) remember(request.files(), handed_out_);
  for (const auto& rejection : outcome.rejections) remember(rejection.files, rejected_);
  std::move(unreadable.begin(), unreadable.end(), std::back_inserter(outcome.rejections));
  if (next_check != SteadyClock::duration::max()) schedule_evaluation(next_check);

  // Callbacks last: they may claim (move) the files, call reexamine() or even stop().
  for (auto& request : outcome.requests) {
    if (running_ && callbacks_.on_request) callbacks_.on_request(std::move(request));
  }
  for (auto& rejection : outcome.rejections) {
    // Earlier callbacks took time (moves, fsyncs): a file that changed since it was judged
    // is being written again, and moving it now would split it. Judge it again later.
    if (!unchanged_since_judged(rejection.files)) continue;
    if (running_ && callbacks_.on_rejection) callbacks_.on_rejection(std::move(rejection));
  }
}

bool InboxWatcher::Impl::unchanged_since_judged(const std::vector<fs::path>& files) {
  const bool unchanged = std::all_of(files.begin(), files.end(), [&](const fs::path& file) {
    const auto judged = rejected_.find(file);
    return judged != rejected_.end() && look_at(file).version == judged->second;
  });
  if (!unchanged) {
    for (const auto& file : files) {
      rejected_.erase(file);
      track(file, Arrival::found, true);
    }
    schedule_evaluation(times().settle);
  }
  return unchanged;
}

void InboxWatcher::Impl::remember(const std::vector<fs::path>& paths,
                                  std::map<fs::path, FileVersion>& verdicts) {
  for (const auto& path : paths) {
    const auto it = tracked_.find(path);
    if (it == tracked_.end()) continue;
    if (it->second.only_rescan_saw_it) noticed("rescan_found");
    verdicts[path] = it->second.rule.version();
    tracked_.erase(it);
  }
}

InboxWatcher::InboxWatcher(asio::io_context& io, fs::path inbox, IntakeConfig settings,
                           IntakeCallbacks callbacks, std::shared_ptr<IntakeClock> clock)
    : impl_(std::make_shared<Impl>(io, std::move(inbox), std::move(settings), std::move(callbacks),
                                   std::move(clock))) {}

InboxWatcher::~InboxWatcher() {
  impl_->stop();
}

void InboxWatcher::start() {
  impl_->start();
}
void InboxWatcher::stop() {
  impl_->stop();
}
void InboxWatcher::rescan() {
  impl_->rescan();
}
void InboxWatcher::reexamine(const std::vector<fs::path>& files) {
  impl_->reexamine(files);
}
void InboxWatcher::update_settings(const IntakeConfig& settings) {
  impl_->update_settings(settings);
}
std::size_t InboxWatcher::pending_count() const {
  return impl_->pending_count();
}
InboxAvailability InboxWatcher::availability() const {
  return impl_->availability();
}

}  // namespace lipsyncd::intake
