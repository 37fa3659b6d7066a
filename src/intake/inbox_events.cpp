// The watcher's eyes: inotify events and scans of the inbox, turned into tracked files.

#include <sys/inotify.h>

#include <cerrno>
#include <cstring>

#include "inbox_watcher_impl.hpp"
#include "media_kind.hpp"

namespace lipsyncd::intake {
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

constexpr std::uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY |
                                     IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_EXCL_UNLINK;

}  // namespace

auto InboxWatcher::Impl::watch(const fs::path& dir) -> std::optional<WatchFailure> {
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

void InboxWatcher::Impl::read_events() {
  auto self = weak_from_this();
  stream_->async_read_some(asio::buffer(buffer_),
                           [self](const boost::system::error_code& ec, std::size_t bytes) {
                             if (auto impl = self.lock()) impl->on_events(ec, bytes);
                           });
}

void InboxWatcher::Impl::on_events(const boost::system::error_code& ec, std::size_t bytes) {
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

void InboxWatcher::Impl::on_event(const inotify_event& event, const std::string& name) {
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

void InboxWatcher::Impl::on_entry_event(std::uint32_t mask, const fs::path& path) {
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
  const auto now = clock_->now();
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
void InboxWatcher::Impl::revive_partners_of(const fs::path& path) {
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
void InboxWatcher::Impl::forget_tree(const fs::path& folder) {
  const auto inside = [&folder](const fs::path& path) {
    const auto relative = path.lexically_relative(folder);
    return !relative.empty() && *relative.begin() != "..";
  };
  std::erase_if(tracked_, [&](const auto& entry) { return inside(entry.first); });
  std::erase_if(handed_out_, [&](const auto& entry) { return inside(entry.first); });
  std::erase_if(rejected_, [&](const auto& entry) { return inside(entry.first); });
}

void InboxWatcher::Impl::forget_verdict(const fs::path& path) {
  handed_out_.erase(path);
  rejected_.erase(path);
}

void InboxWatcher::Impl::noticed(std::string_view kind) const {
  if (callbacks_.on_watch_event) callbacks_.on_watch_event(kind);
}

// `found_kind` names, for on_watch_event, each file this scan is the first to see (none for
// the scan of a folder an event already reported). A rescan's find may only be ahead of its
// event, still queued: it is counted later, if no event came (see only_rescan_saw_it).
void InboxWatcher::Impl::scan(const fs::path& dir, Arrival arrival, const char* found_kind) {
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

}  // namespace lipsyncd::intake
