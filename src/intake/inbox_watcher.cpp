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

#include "file_pairing.hpp"
#include "lipsyncd/core/error.hpp"
#include "media_kind.hpp"

namespace lipsyncd::intake {
namespace fs = std::filesystem;
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// After IN_CLOSE_WRITE a file is taken once it stays unchanged this long: a writer that closes
// and reopens at once (append in steps) shows up as a change within it.
constexpr auto kClosedQuiet = std::chrono::milliseconds(25);

constexpr std::uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY |
                                     IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_EXCL_UNLINK;

// What identifies one version of a file: a rewrite, a replacement or a touch changes it.
struct Signature {
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  bool operator==(const Signature&) const = default;
};

std::optional<Signature> signature_of(const fs::path& file) {
  struct stat info {};
  if (::lstat(file.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  return Signature{
      static_cast<std::uintmax_t>(info.st_size),
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec,
      static_cast<std::uint64_t>(info.st_ino)};
}

bool is_link(const fs::path& file) {
  struct stat info {};
  return ::lstat(file.c_str(), &info) == 0 && S_ISLNK(info.st_mode);
}

// A link could point anywhere (another user's files, /etc): it is moved to error/ as the link
// itself, never read.
Rejection symlink_rejection(const fs::path& link) {
  return {"symlink_not_followed",
          link.filename().string() +
              " is a symbolic link; lipsyncd never follows links out of the inbox",
          "copy or move the file itself into the inbox",
          {link}};
}

steady_clock::duration seconds_to_duration(double seconds) {
  return std::chrono::duration_cast<steady_clock::duration>(std::chrono::duration<double>(seconds));
}

// A file the watcher is waiting on.
struct TrackedFile {
  Signature signature;
  steady_clock::time_point last_change;
  bool writing = false;  // written to and not closed since (only known through inotify)
  bool closed = false;   // closed after writing (or renamed in) and unchanged since
  steady_clock::time_point closed_at;
  std::optional<steady_clock::time_point> settled_since;
};

}  // namespace

class InboxWatcher::Impl : public std::enable_shared_from_this<InboxWatcher::Impl> {
 public:
  Impl(asio::io_context& io, fs::path inbox, IntakeConfig settings, IntakeCallbacks callbacks)
      : io_(io),
        inbox_(std::move(inbox)),
        settings_(std::move(settings)),
        callbacks_(std::move(callbacks)),
        evaluate_timer_(io),
        rescan_timer_(io) {}

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
    running_ = true;
    // Watches first, then the scan: a file written in between is seen at least once.
    scan(inbox_, false);
    read_events();
    schedule_rescan();
    evaluate();
  }

  void stop() {
    running_ = false;
    evaluate_timer_.cancel();
    rescan_timer_.cancel();
    if (stream_) {
      boost::system::error_code ignored;
      stream_->close(ignored);
    }
    watches_.clear();
  }

  void rescan() {
    if (!running_) return;
    scan(inbox_, false);
    evaluate();
  }

  void reexamine(const std::vector<fs::path>& files) {
    for (const auto& file : files) {
      handed_out_.erase(file);
      track(file, false, true);
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

 private:
  // ── inotify ─────────────────────────────────────────────────────────────────────────────

  void add_watch(const fs::path& dir) {
    const int wd = ::inotify_add_watch(stream_->native_handle(), dir.c_str(), kWatchMask);
    if (wd < 0) {
      if (dir == inbox_) {
        throw Error(
            "inbox_unwatchable", "cannot watch " + dir.string() + ": " + std::strerror(errno),
            "raise fs.inotify.max_user_watches or check permissions", Permanence::transient);
      }
      return;  // the periodic rescan still finds what lands there
    }
    watches_[wd] = dir;
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
      schedule_evaluation(kClosedQuiet);
    }
  }

  void on_event(const inotify_event& event, const std::string& name) {
    if (event.mask & IN_Q_OVERFLOW) {
      // Events were lost: what we believe about open writers may be wrong.
      for (auto& [path, file] : tracked_) file.writing = false;
      scan(inbox_, false);
      return;
    }
    const auto dir = watches_.find(event.wd);
    if (dir == watches_.end()) return;
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
    const fs::path path = dir->second / name;
    if (event.mask & IN_ISDIR) {
      // A folder moved in arrives complete; one created here fills up file by file.
      if (event.mask & (IN_CREATE | IN_MOVED_TO)) scan(path, (event.mask & IN_MOVED_TO) != 0);
      if (event.mask & (IN_DELETE | IN_MOVED_FROM)) forget_tree(path);
      return;
    }
    if (event.mask & (IN_DELETE | IN_MOVED_FROM)) {
      tracked_.erase(path);
      handed_out_.erase(path);
      rejected_.erase(path);
      return;
    }
    if (event.mask & (IN_CREATE | IN_MODIFY)) {
      forget_verdict(path);
      auto& file = track(path, false, false);
      file.writing = true;
      file.closed = false;
      file.settled_since.reset();
      file.last_change = steady_clock::now();
      return;
    }
    if (event.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
      // A name that reappears after it was handed out or rejected is a new file.
      forget_verdict(path);
      auto& file = track(path, true, false);
      file.writing = false;
      file.closed = true;
      file.closed_at = steady_clock::now();
      if (const auto signature = signature_of(path)) file.signature = *signature;
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
        track(candidate, true, true);  // it had settled before
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

  // ── scanning ────────────────────────────────────────────────────────────────────────────

  void scan(const fs::path& dir, bool arrived_complete) {
    if (fs::is_symlink(dir)) return;  // never follow links out of the inbox
    add_watch(dir);
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      const fs::path path = it->path();
      if (is_ignored_name(path.filename().string())) continue;
      std::error_code type_ec;
      if (it->is_symlink(type_ec)) {
        track(path, arrived_complete, false);  // never followed: evaluate() rejects it
        continue;
      }
      if (it->is_directory(type_ec)) {
        scan(path, arrived_complete);
      } else if (it->is_regular_file(type_ec)) {
        track(path, arrived_complete, false);
      }
    }
  }

  // Starts following `path` unless it is followed already or was dealt with in this version.
  TrackedFile& track(const fs::path& path, bool arrived_complete, bool force) {
    if (auto it = tracked_.find(path); it != tracked_.end()) return it->second;
    const auto signature = signature_of(path);
    TrackedFile file;
    file.signature = signature.value_or(Signature{});
    file.last_change = steady_clock::now();
    if (!force && signature) {
      const auto same_version = [&](const std::map<fs::path, Signature>& verdicts) {
        const auto it = verdicts.find(path);
        return it != verdicts.end() && it->second == *signature;
      };
      if (same_version(handed_out_) || same_version(rejected_)) return dummy_ = file;
    }
    if (arrived_complete) {
      file.closed = true;
      file.closed_at = file.last_change;
    }
    return tracked_.emplace(path, file).first->second;
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

  // Whether the file has stopped changing, by the close event or by a quiet settle_s.
  bool settled(TrackedFile& file, steady_clock::time_point now) {
    const auto current = signature_of_current_;
    if (!current) return false;
    if (!(*current == file.signature)) {
      file.signature = *current;
      file.last_change = now;
      file.closed = false;
      file.settled_since.reset();
      return false;
    }
    // An empty file closed may be a placeholder a downloader fills through a second open:
    // only settle_s of calm makes it final.
    if (file.closed && file.signature.size > 0) {
      return now - file.closed_at >= std::min<steady_clock::duration>(kClosedQuiet, settle());
    }
    return !file.writing && now - file.last_change >= settle();
  }

  steady_clock::duration settle() const { return seconds_to_duration(settings_.settle_s); }

  void evaluate() {
    if (!running_) return;
    const auto now = steady_clock::now();
    std::vector<InboxFile> files;
    std::vector<Rejection> links;
    steady_clock::duration next_check = steady_clock::duration::max();
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      signature_of_current_ = signature_of(it->first);
      if (!signature_of_current_) {
        if (is_link(it->first)) links.push_back(symlink_rejection(it->first));
        it = tracked_.erase(it);  // gone (or no longer a regular file)
        continue;
      }
      TrackedFile& file = it->second;
      if (settled(file, now)) {
        if (!file.settled_since) file.settled_since = now;
      } else {
        file.settled_since.reset();
        const auto wait = file.closed ? kClosedQuiet : settle();
        next_check = std::min(
            next_check, std::max<steady_clock::duration>(wait / 4, std::chrono::milliseconds(10)));
      }
      files.push_back(
          {it->first, file.settled_since.has_value(), file.settled_since.value_or(now)});
      ++it;
    }
    PairingOutcome outcome =
        pair_files(inbox_, files, now, seconds_to_duration(settings_.partner_wait_s));
    std::move(links.begin(), links.end(), std::back_inserter(outcome.rejections));
    if (outcome.next_deadline) {
      next_check = std::min(next_check, *outcome.next_deadline - now);
    }
    for (const auto& request : outcome.requests) remember(request.files(), handed_out_);
    for (const auto& rejection : outcome.rejections) remember(rejection.files, rejected_);
    if (next_check != steady_clock::duration::max()) schedule_evaluation(next_check);

    // Callbacks last: they may claim (move) the files, call reexamine() or even stop().
    for (auto& request : outcome.requests) {
      if (running_ && callbacks_.on_request) callbacks_.on_request(std::move(request));
    }
    for (auto& rejection : outcome.rejections) {
      if (running_ && callbacks_.on_rejection) callbacks_.on_rejection(std::move(rejection));
    }
  }

  void remember(const std::vector<fs::path>& paths, std::map<fs::path, Signature>& verdicts) {
    for (const auto& path : paths) {
      const auto it = tracked_.find(path);
      if (it == tracked_.end()) continue;
      verdicts[path] = it->second.signature;
      tracked_.erase(it);
    }
  }

  asio::io_context& io_;
  fs::path inbox_;
  IntakeConfig settings_;
  IntakeCallbacks callbacks_;
  std::unique_ptr<asio::posix::stream_descriptor> stream_;
  asio::steady_timer evaluate_timer_;
  asio::steady_timer rescan_timer_;
  std::optional<steady_clock::time_point> evaluation_due_;
  std::map<int, fs::path> watches_;
  std::map<fs::path, TrackedFile> tracked_;
  // Files already handed out in a request or a rejection, by the version that was: the same
  // version is not offered again, a new one (rewritten, replaced, dropped again) is.
  std::map<fs::path, Signature> handed_out_;
  std::map<fs::path, Signature> rejected_;
  std::optional<Signature> signature_of_current_;
  TrackedFile dummy_;
  bool running_ = false;
  alignas(inotify_event) std::array<char, 64 * 1024> buffer_{};
};

InboxWatcher::InboxWatcher(asio::io_context& io, fs::path inbox, IntakeConfig settings,
                           IntakeCallbacks callbacks)
    : impl_(std::make_shared<Impl>(io, std::move(inbox), std::move(settings),
                                   std::move(callbacks))) {}

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

}  // namespace lipsyncd::intake
