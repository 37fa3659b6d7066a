#pragma once
// Watches the inbox (inotify through the daemon's io_context, a scan at start and a periodic
// rescan) and turns settled files into JobRequests: same-stem pairs, NAME.job.json manifests,
// and folders holding one video + one audio. Bad manifests and lone files become Rejections.
// It never moves or deletes anything: the daemon claims or rejects the files it is handed.
// All callbacks run on the io_context's thread. Boost.Asio stays out of this header.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/job_request.hpp"

namespace boost::asio {
class io_context;
}

namespace lipsyncd::intake {

// Something in the inbox that cannot become a job as it is.
struct Rejection {
  std::string reason_code;  // "no_audio_found", "no_video_found", "bad_manifest",
                            // "path_outside_inbox", "missing_input", "ambiguous_pair",
                            // "unknown_file_type"
  std::string message;      // "no audio found for clip.mp4"
  std::string hint;
  std::vector<std::filesystem::path> files;  // absolute, inside the inbox; move them to error/
};

struct IntakeCallbacks {
  std::function<void(JobRequest)> on_request;
  std::function<void(Rejection)> on_rejection;
};

class InboxWatcher {
 public:
  // `inbox` must exist. Settings: settle_s, rescan_interval_s, partner_wait_s.
  InboxWatcher(boost::asio::io_context& io, std::filesystem::path inbox, IntakeConfig settings,
               IntakeCallbacks callbacks);
  ~InboxWatcher();
  InboxWatcher(const InboxWatcher&) = delete;
  InboxWatcher& operator=(const InboxWatcher&) = delete;

  // Installs the inotify watches, then scans what is already there. When it returns, no
  // file written from now on can be missed (sd_notify READY may be sent). Throws
  // lipsyncd::Error "inbox_unwatchable" when inotify or the folder is not usable.
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

 private:
  class Impl;
  // Shared so that handlers still queued on the io_context after destruction find it gone.
  std::shared_ptr<Impl> impl_;
};

}  // namespace lipsyncd::intake
