#pragma once
// Watches the inbox (inotify through the daemon's io_context, a scan at start and a periodic
// rescan) and turns settled files into JobRequests: same-stem pairs, NAME.job.json manifests,
// and folders holding one video + one audio. Bad manifests and lone files become Rejections.
// It never moves or deletes anything: the daemon claims or rejects the files it is handed.
// When the inbox itself goes away (deleted, moved, unmounted) it pauses, says so through
// on_inbox_change, and resumes once a folder is back at the inbox's path.
// All callbacks run on the io_context's thread. Boost.Asio stays out of this header.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/job_request.hpp"
#include "lipsyncd/intake/intake_clock.hpp"
#include "lipsyncd/intake/settle_rule.hpp"

namespace boost::asio {
class io_context;
}

namespace lipsyncd::intake {

// Something in the inbox that cannot become a job as it is.
struct Rejection {
  std::string reason_code;  // "no_audio_found", "no_video_found", "bad_manifest",
                            // "path_outside_inbox", "missing_input", "ambiguous_pair",
                            // "unknown_file_type", "symlink_not_followed",
                            // "not_a_regular_file"
  std::string message;      // "no audio found for clip.mp4"
  std::string hint;
  std::vector<std::filesystem::path> files;  // absolute, inside the inbox; move them to error/
  std::filesystem::path folder{};            // a folder job's folder, else empty
};

// Whether intake can see the inbox. Unavailable: deleted, moved away, unmounted, or not
// watchable; `reason` says which and what to do.
struct InboxAvailability {
  bool available = true;
  std::string reason;
};

struct IntakeCallbacks {
  std::function<void(JobRequest)> on_request;
  std::function<void(Rejection)> on_rejection;
  std::function<void(const InboxAvailability&)> on_inbox_change{};  // optional
  // Optional: one call per thing the watcher noticed, by kind: "close_write" and "moved_to"
  // (a file written or renamed in, a folder moved in), "created_dir", "overflow" (the kernel
  // dropped events), "scan_found" (a new file found by the scan at start or when the inbox
  // came back) and "rescan_found" (a new file only the periodic rescan found: no event told
  // of it, as on a network share).
  std::function<void(std::string_view kind)> on_watch_event{};
};

class InboxWatcher {
 public:
  // `inbox` must exist. Settings: settle_s, rescan_interval_s, partner_wait_s. Time comes
  // from `clock` (tests pass one they move by hand); none: the steady clock on `io`.
  InboxWatcher(boost::asio::io_context& io, std::filesystem::path inbox, IntakeConfig settings,
               IntakeCallbacks callbacks, std::shared_ptr<IntakeClock> clock = nullptr);
  ~InboxWatcher();
  InboxWatcher(const InboxWatcher&) = delete;
  InboxWatcher& operator=(const InboxWatcher&) = delete;

  // Installs the inotify watches, then scans what is already there. When it returns, no
  // file written from now on can be missed (sd_notify READY may be sent). Throws
  // lipsyncd::Error "inbox_unwatchable" when inotify or the folder is not usable at start;
  // later losses pause intake instead (see availability()).
  void start();
  // Stops watching and cancels timers; no callback runs after it returns.
  void stop();
  // Scans the inbox now (the periodic rescan calls it too).
  void rescan();
  // The daemon could not claim or reject these files and left them in place: look at them
  // again as if they were new (otherwise files handed out once are not offered twice).
  void reexamine(const std::vector<std::filesystem::path>& files);
  // Applies new settings (SIGHUP reload); the inbox path itself cannot change.
  void update_settings(const IntakeConfig& settings);

  // Files seen but not yet handed out (still settling or waiting for a partner).
  std::size_t pending_count() const;
  // Whether intake is live or paused because the inbox is gone, and why.
  InboxAvailability availability() const;

 private:
  class Impl;
  // Shared so that handlers still queued on the io_context after destruction find it gone.
  std::shared_ptr<Impl> impl_;
};

}  // namespace lipsyncd::intake
