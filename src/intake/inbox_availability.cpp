// The inbox itself going away (deleted, moved, unmounted, replaced) and coming back.

#include <sys/inotify.h>

#include <chrono>

#include "inbox_watcher_impl.hpp"

namespace lipsyncd::intake {

namespace {

// While the inbox is gone, how often to look whether it is back.
constexpr auto kInboxProbeInterval = std::chrono::seconds(1);

}  // namespace

void InboxWatcher::Impl::lose_inbox(const std::string& what) {
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

void InboxWatcher::Impl::schedule_probe() {
  auto self = weak_from_this();
  probe_timer_->wait_until(clock_->now() + kInboxProbeInterval, [self] {
    if (auto impl = self.lock(); impl && impl->running_ && !impl->available_) {
      impl->probe_inbox();
    }
  });
}

void InboxWatcher::Impl::probe_inbox() {
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

void InboxWatcher::Impl::notify_availability() {
  if (callbacks_.on_inbox_change) callbacks_.on_inbox_change(availability());
}

}  // namespace lipsyncd::intake
