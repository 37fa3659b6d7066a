#include "lipsyncd/intake/inbox_watcher.hpp"

#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <set>

#include "inbox_entry.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/intake/declared_end.hpp"
#include "lipsyncd/intake/file_pairing.hpp"
#include "media_kind.hpp"

namespace lipsyncd::intake {
namespace fs = std::filesystem;
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// While the inbox is gone, how often to look whether it is back.
constexpr auto kInboxProbeInterval = std::chrono::seconds(1);

constexpr std::uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY |
                                     IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_EXCL_UNLINK;

steady_clock::duration seconds_to_duration(double seconds) {
  return std::chrono::duration_cast<steady_clock::duration>(std::chrono::duration<double>(seconds));
}

// A file the watcher is waiting on.
struct TrackedFile {
  SettleRule rule;
  std::optional<SteadyTime> settled_since;
  // Found by the periodic rescan and no event about it since: counted as "rescan_found" when
  // it is handed out, once any event still queued for it would have arrived.
  bool only_rescan_saw_it = false;
};

}  // namespace

class InboxWatcher::Impl : public std::enable_shared_from_this<InboxWatcher::Impl> {
 public:
  Impl(asio::io_context& io, fs::path inbox, IntakeConfig settings, IntakeCallbacks callbacks,
       IntakeClock clock)
      : inbox_(std::move(inbox)),
        settings_(std::move(settings)),
        callbacks_(std::move(callbacks)),
        clock_(std::move(clock)),
        io_(io),
        evaluate_timer_(io),
        rescan_timer_(io),
        probe_timer_(io) {}

  void start() {
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

  void stop() {
    running_ = false;
    evaluate_timer_.cancel();
    rescan_timer_.cancel();
    probe_timer_.cancel();
    if (stream_) {
      boost::system::error_code ignored;
      stream_->close(ignored);
    }
    watches_.clear();
  }

  void rescan() {
    if (!running_) return;
    if (!available_) return probe_inbox();  // a rescan also looks whether it is back
    if (identity_of(inbox_) != inbox_identity_) {
      // Gone without an event (a network share, a lazy unmount) or replaced under us.
      return lose_inbox("is gone or was replaced by another folder");
    }
    scan(inbox_, Arrival::found, "rescan_found");
    evaluate();
  }

  void reexamine(const std::vector<fs::path>& files) {
    for (const auto& file : files) {
      handed_out_.erase(file);
      track(file, Arrival::found, true);
    }
    if (running_) schedule_evaluation(std::chrono::milliseconds(0));
  }

  void update_settings(const IntakeConfig& settings) {
    settings_ = settings;
    if (running_) {
      schedule_rescan();
      schedule_evaluation(std::chrono::milliseconds(0));
    }
  }

  std::size_t pending_count() const { return tracked_.size(); }

  InboxAvailability availability() const { return {available_, unavailable_reason_}; }

 private:
  struct WatchFailure {
    std::string message;
    std::string hint;
  };

  // ── inotify ─────────────────────────────────────────────────────────────────────────────

  std::optional<WatchFailure> watch(const fs::path& dir) {
    const int wd = ::inotify_add_watch(stream_->native_handle(), dir.c_str(), kWatchMask);
    if (wd >= 0) {
      watches_[wd] = dir;
      return std::nullopt;
    }
    const int error = errno;
    std::string hint = "check the folder and its permissions";
    if (error == ENOSPC) hint = "raise fs.inotify.max_user_watches";
    if (error == EACCES) hint = "let the user lipsyncd runs as read the folder";
    if (error == ENOENT || error == ENOTDIR) hint = "create the folder or fix [paths] inbox";
    return WatchFailure{"cannot watch " + dir.string() + ": " + std::strerror(error), hint};
  }

  void read_events() {
    auto self = weak_from_this();
    stream_->async_read_some(asio::buffer(buffer_),
                             [self](const boost::system::error_code& ec, std::size_t bytes) {
                               if (auto impl = self.lock()) impl->on_events(ec, bytes);
                             });
  }

  void on_events(const boost::system::error_code& ec, std::size_t bytes) {
    if (!running_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      rescan();  // fall back on scanning; keep listening
    }
    std::size_t offset = 0;
    while (offset + sizeof(inotify_event) <= bytes) {
      inotify_event event;
      std::memcpy(&event, buffer_.data() + offset, sizeof event);
      const char* name = buffer_.data() + offset + sizeof(inotify_event);
      on_event(event, event.len > 0 ? std::string(name) : std::string());
      offset += sizeof(inotify_event) + event.len;
    }
    if (running_) {
      read_events();
      schedule_evaluation(times().closed_quiet);
    }
  }

  void on_event(const inotify_event& event, const std::string& name) {
    if (!available_) return;  // stale events of the watches of a lost inbox
    if (event.mask & IN_Q_OVERFLOW) {
      noticed("overflow");
      // Events were lost: what we believe about open writers may be wrong.
      for (auto& [path, file] : tracked_) file.rule.writers_unknown();
      scan(inbox_, Arrival::found, "rescan_found");
      return;
    }
    const auto dir = watches_.find(event.wd);
    if (dir == watches_.end()) return;
    if (dir->second == inbox_ &&
        (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED))) {
      return lose_inbox((event.mask & IN_UNMOUNT)     ? "was unmounted"
                        : (event.mask & IN_MOVE_SELF) ? "was moved away"
                                                      : "was deleted");
    }
    if (event.mask & IN_IGNORED) {
      watches_.erase(dir);
      return;
    }
    if ((event.mask & IN_MOVE_SELF) && dir->second != inbox_) {
      // The watch follows the folder to wherever it went; its events would name wrong paths.
      ::inotify_rm_watch(stream_->native_handle(), event.wd);
      watches_.erase(dir);
      return;
    }
    if (name.empty() || is_ignored_name(name)) return;
    on_entry_event(event.mask, dir->second / name);
  }

  void on_entry_event(std::uint32_t mask, const fs::path& path) {
    if (mask & IN_ISDIR) {
      // A folder moved in arrives complete; one created here fills up file by file.
      if (mask & (IN_CREATE | IN_MOVED_TO)) {
        noticed((mask & IN_MOVED_TO) ? "moved_to" : "created_dir");
        scan(path, (mask & IN_MOVED_TO) ? Arrival::renamed_in : Arrival::found);
      }
      if (mask & (IN_DELETE | IN_MOVED_FROM)) forget_tree(path);
      return;
    }
    if (mask & (IN_DELETE | IN_MOVED_FROM)) {
      tracked_.erase(path);
      handed_out_.erase(path);
      rejected_.erase(path);
      return;
    }
    // A name that changes after it was handed out or rejected is a new file.
    forget_verdict(path);
    const auto now = clock_();
    // Only a file seen being created has its whole history seen: one written to or closed
    // before we noticed may have had earlier rounds.
    if (mask & (IN_CREATE | IN_MODIFY)) {
      const auto arrival = (mask & IN_CREATE) ? Arrival::written_here : Arrival::found;
      if (auto* file = track(path, arrival, false)) {
        file->rule.written(now);
        file->settled_since.reset();
        file->only_rescan_saw_it = false;
      }
      return;
    }
    if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
      const bool renamed = (mask & IN_MOVED_TO) != 0;
      noticed(renamed ? "moved_to" : "close_write");
      auto* file = track(path, renamed ? Arrival::renamed_in : Arrival::found, false);
      if (file) file->only_rescan_saw_it = false;
      const auto entry = look_at(path);
      if (file && entry.kind == EntryKind::regular) {
        if (renamed) {
          file->rule.renamed_in(entry.version, now);
        } else {
          file->rule.closed(entry.version, now);
        }
      }
      revive_partners_of(path);
    }
  }

  // A file rejected as lone that is still in the inbox (the daemon could not move it) gets
  // another chance when a file with its stem arrives next to it.
  void revive_partners_of(const fs::path& path) {
    for (auto it = rejected_.begin(); it != rejected_.end();) {
      const fs::path candidate = it->first;
      ++it;
      if (candidate.parent_path() == path.parent_path() && candidate != path &&
          stem_of(candidate) == stem_of(path)) {
        rejected_.erase(candidate);
        track(candidate, Arrival::renamed_in, true);  // it had settled before
      }
    }
  }

  // A folder left the inbox: forget everything inside it.
  void forget_tree(const fs::path& folder) {
    const auto inside = [&folder](const fs::path& path) {
      const auto relative = path.lexically_relative(folder);
      return !relative.empty() && *relative.begin() != "..";
    };
    std::erase_if(tracked_, [&](const auto& entry) { return inside(entry.first); });
    std::erase_if(handed_out_, [&](const auto& entry) { return inside(entry.first); });
    std::erase_if(rejected_, [&](const auto& entry) { return inside(entry.first); });
  }

  void forget_verdict(const fs::path& path) {
    handed_out_.erase(path);
    rejected_.erase(path);
  }

  // ── the inbox itself going away and coming back ─────────────────────────────────────────

  void lose_inbox(const std::string& what) {
    if (!available_) return;
    available_ = false;
    unavailable_reason_ = "the inbox " + inbox_.string() + " " + what +
                          "; intake is paused until a folder is back at that path (jobs "
                          "already taken go on)";
    // After an unmount the empty mount point is still there: wait for something else.
    identity_after_loss_.reset();
    if (what == "was unmounted") identity_after_loss_ = identity_of(inbox_);
    for (const auto& [wd, dir] : watches_) ::inotify_rm_watch(stream_->native_handle(), wd);
    watches_.clear();
    // Nothing seen so far can be taken from a folder that is gone; what comes back is new.
    tracked_.clear();
    handed_out_.clear();
    rejected_.clear();
    notify_availability();
    schedule_probe();
  }

  void schedule_probe() {
    probe_timer_.expires_after(kInboxProbeInterval);
    auto self = weak_from_this();
    probe_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (auto impl = self.lock(); impl && impl->running_ && !impl->available_) {
        impl->probe_inbox();
      }
    });
  }

  void probe_inbox() {
    const auto identity = identity_of(inbox_);
    if (!identity || identity == identity_after_loss_) return schedule_probe();
    if (const auto failure = watch(inbox_)) {
      unavailable_reason_ = failure->message + " (" + failure->hint + "); intake stays paused";
      return schedule_probe();
    }
    available_ = true;
    unavailable_reason_.clear();
    inbox_identity_ = identity;
    notify_availability();
    scan(inbox_, Arrival::found, "scan_found");
    schedule_evaluation(std::chrono::milliseconds(0));
  }

  void notify_availability() {
    if (callbacks_.on_inbox_change) callbacks_.on_inbox_change(availability());
  }

  // ── scanning ────────────────────────────────────────────────────────────────────────────

  void noticed(std::string_view kind) const {
    if (callbacks_.on_watch_event) callbacks_.on_watch_event(kind);
  }

  // `found_kind` names, for on_watch_event, each file this scan is the first to see (none for
  // the scan of a folder an event already reported). A rescan's find may only be ahead of its
  // event, still queued: it is counted later, if no event came (see only_rescan_saw_it).
  void scan(const fs::path& dir, Arrival arrival, const char* found_kind = nullptr) {
    if (look_at(dir).kind != EntryKind::directory) return;  // never follow links out of it
    if (dir != inbox_) watch(dir);  // if it fails, the periodic rescan still finds files
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      const fs::path path = it->path();
      if (is_ignored_name(path.filename().string())) continue;
      // Links, FIFOs, sockets and devices are tracked too: evaluate() rejects them, unread.
      if (look_at(path).kind == EntryKind::directory) {
        scan(path, arrival, found_kind);
      } else {
        const bool known = tracked_.contains(path);
        auto* file = track(path, arrival, false);
        if (file == nullptr || known || found_kind == nullptr) continue;
        if (std::string_view(found_kind) == "rescan_found") {
          file->only_rescan_saw_it = true;
        } else {
          noticed(found_kind);
        }
      }
    }
  }

  // Starts following `path` unless it is followed already or was dealt with in this version.
  TrackedFile* track(const fs::path& path, Arrival arrival, bool force) {
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
    return &tracked_.emplace(path, TrackedFile{SettleRule(entry.version, clock_(), arrival), {}})
                .first->second;
  }

  // ── settling and pairing ────────────────────────────────────────────────────────────────

  void schedule_evaluation(steady_clock::duration delay) {
    const auto when = steady_clock::now() + delay;
    if (evaluation_due_ && *evaluation_due_ <= when) return;
    evaluation_due_ = when;
    evaluate_timer_.expires_at(when);
    auto self = weak_from_this();
    evaluate_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (auto impl = self.lock()) {
        impl->evaluation_due_.reset();
        impl->evaluate();
      }
    });
  }

  void schedule_rescan() {
    rescan_timer_.cancel();
    if (settings_.rescan_interval_s <= 0) return;
    rescan_timer_.expires_after(seconds_to_duration(settings_.rescan_interval_s));
    auto self = weak_from_this();
    rescan_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (auto impl = self.lock(); impl && impl->running_) {
        impl->rescan();
        impl->schedule_rescan();
      }
    });
  }

  SettleTimes times() const { return SettleTimes{seconds_to_duration(settings_.settle_s)}; }

  void evaluate() {
    if (!running_ || !available_) return;
    const auto now = clock_();
    std::vector<InboxFile> files;
    std::vector<Rejection> unreadable;  // links and special files: never opened
    steady_clock::duration next_check = steady_clock::duration::max();
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
    if (next_check != steady_clock::duration::max()) schedule_evaluation(next_check);

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

  bool unchanged_since_judged(const std::vector<fs::path>& files) {
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

  void remember(const std::vector<fs::path>& paths, std::map<fs::path, FileVersion>& verdicts) {
    for (const auto& path : paths) {
      const auto it = tracked_.find(path);
      if (it == tracked_.end()) continue;
      if (it->second.only_rescan_saw_it) noticed("rescan_found");
      verdicts[path] = it->second.rule.version();
      tracked_.erase(it);
    }
  }

  fs::path inbox_;
  IntakeConfig settings_;
  IntakeCallbacks callbacks_;
  IntakeClock clock_;
  asio::io_context& io_;
  std::unique_ptr<asio::posix::stream_descriptor> stream_;
  asio::steady_timer evaluate_timer_;
  asio::steady_timer rescan_timer_;
  asio::steady_timer probe_timer_;
  std::optional<steady_clock::time_point> evaluation_due_;  // real time: the timer's
  std::map<int, fs::path> watches_;
  std::map<fs::path, TrackedFile> tracked_;
  // Files already handed out in a request or a rejection, by the version that was: the same
  // version is not offered again, a new one (rewritten, replaced, dropped again) is.
  std::map<fs::path, FileVersion> handed_out_;
  std::map<fs::path, FileVersion> rejected_;
  bool running_ = false;
  bool available_ = true;
  std::string unavailable_reason_;
  std::optional<FolderIdentity> inbox_identity_;
  std::optional<FolderIdentity> identity_after_loss_;
  alignas(inotify_event) std::array<char, 64 * 1024> buffer_{};
};

InboxWatcher::InboxWatcher(asio::io_context& io, fs::path inbox, IntakeConfig settings,
                           IntakeCallbacks callbacks, IntakeClock clock)
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
