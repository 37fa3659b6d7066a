#pragma once
// InboxWatcher's insides, one noun a file: inbox_watcher.cpp follows files until they settle
// and pairs them, inbox_events.cpp turns inotify events and scans into tracked files, and
// inbox_availability.cpp pauses intake while the inbox is gone. Private to src/intake.

#include <sys/inotify.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inbox_entry.hpp"
#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/intake/intake_clock.hpp"
#include "lipsyncd/intake/settle_rule.hpp"

namespace lipsyncd::intake {

// A file the watcher is waiting on.
struct TrackedFile {
  SettleRule rule;
  std::optional<SteadyTime> settled_since;
  // Found by the periodic rescan and no event about it since: counted as "rescan_found" when
  // it is handed out, once any event still queued for it would have arrived.
  bool only_rescan_saw_it = false;
};

class InboxWatcher::Impl : public std::enable_shared_from_this<InboxWatcher::Impl> {
 public:
  Impl(boost::asio::io_context& io, std::filesystem::path inbox, IntakeConfig settings,
       IntakeCallbacks callbacks, std::shared_ptr<IntakeClock> clock);

  void start();
  void stop();
  void rescan();
  void reexamine(const std::vector<std::filesystem::path>& files);
  void update_settings(const IntakeConfig& settings);
  std::size_t pending_count() const { return tracked_.size(); }
  InboxAvailability availability() const { return {available_, unavailable_reason_}; }

 private:
  struct WatchFailure {
    std::string message;
    std::string hint;
  };

  // inotify and scanning (inbox_events.cpp)
  std::optional<WatchFailure> watch(const std::filesystem::path& dir);
  void read_events();
  void on_events(const boost::system::error_code& ec, std::size_t bytes);
  void on_event(const inotify_event& event, const std::string& name);
  void on_entry_event(std::uint32_t mask, const std::filesystem::path& path);
  void revive_partners_of(const std::filesystem::path& path);
  void forget_tree(const std::filesystem::path& folder);
  void forget_verdict(const std::filesystem::path& path);
  void noticed(std::string_view kind) const;
  void scan(const std::filesystem::path& dir, Arrival arrival, const char* found_kind = nullptr);

  // the inbox itself going away and coming back (inbox_availability.cpp)
  void lose_inbox(const std::string& what);
  void schedule_probe();
  void probe_inbox();
  void notify_availability();

  // settling and pairing (inbox_watcher.cpp)
  TrackedFile* track(const std::filesystem::path& path, Arrival arrival, bool force);
  void schedule_evaluation(SteadyClock::duration delay);
  void schedule_rescan();
  SettleTimes times() const;
  void evaluate();
  bool unchanged_since_judged(const std::vector<std::filesystem::path>& files);
  void remember(const std::vector<std::filesystem::path>& paths,
                std::map<std::filesystem::path, FileVersion>& verdicts);

  std::filesystem::path inbox_;
  IntakeConfig settings_;
  IntakeCallbacks callbacks_;
  std::shared_ptr<IntakeClock> clock_;
  boost::asio::io_context& io_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> stream_;
  std::unique_ptr<IntakeTimer> evaluate_timer_;
  std::unique_ptr<IntakeTimer> rescan_timer_;
  std::unique_ptr<IntakeTimer> probe_timer_;
  std::optional<SteadyTime> evaluation_due_;  // when evaluate_timer_ fires
  std::map<int, std::filesystem::path> watches_;
  std::map<std::filesystem::path, TrackedFile> tracked_;
  // Files already handed out in a request or a rejection, by the version that was: the same
  // version is not offered again, a new one (rewritten, replaced, dropped again) is.
  std::map<std::filesystem::path, FileVersion> handed_out_;
  std::map<std::filesystem::path, FileVersion> rejected_;
  bool running_ = false;
  bool available_ = true;
  std::string unavailable_reason_;
  std::optional<FolderIdentity> inbox_identity_;
  std::optional<FolderIdentity> identity_after_loss_;
  alignas(inotify_event) std::array<char, 64 * 1024> buffer_{};
};

}  // namespace lipsyncd::intake
