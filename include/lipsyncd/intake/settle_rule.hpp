#pragma once
// When a file in the inbox may be taken: a pure state machine fed with what inotify reported
// and what stat() shows, with the time passed in, so every rule is testable without sleeping.
//
// The one safe signal that a file is complete is that it arrived complete (renamed in, or in
// a folder moved in) or that its own structure says where it ends. A close alone is not: a
// writer appending in open/write/close rounds (`cat part >> file`, sync tools, SMB clients)
// closes after every round. So:
//  - fast path (closed_quiet, 25 ms after the close): the file arrived by rename, or it was
//    written in exactly one open/write/close round since it appeared and its format declares
//    its own length and that length is all there (MP4/MOV, WAV/AVI, a JSON manifest);
//  - everything else (a second round of writes after a close, formats without a declared
//    length, files found by a scan, whose earlier rounds nobody saw, unexplained changes) is taken
//    once nothing has written to it, closed it or changed its size, mtime or inode for settle_s;
//  - a file open for writing is never taken, however long the writer pauses.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace lipsyncd::intake {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

// What identifies one version of a file: a rewrite, a replacement or a touch changes it.
struct FileVersion {
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  bool operator==(const FileVersion&) const = default;
};

struct SettleTimes {
  SteadyClock::duration settle;  // [intake] settle_s
  // After the close of a file that proves it is complete: a writer that closes and reopens
  // at once still shows up within it.
  SteadyClock::duration closed_quiet = std::chrono::milliseconds(25);
};

// How the watcher came to know the file.
enum class Arrival {
  written_here,  // created in the inbox (IN_CREATE / IN_MODIFY): its whole history is seen
  renamed_in,    // appeared complete: IN_MOVED_TO, a folder moved in, or settled before
  found,         // seen by a scan: nothing is known about its writers
};

class SettleRule {
 public:
  SettleRule(FileVersion version, SteadyTime now, Arrival arrival);

  void written(SteadyTime now);                      // IN_CREATE, IN_MODIFY
  void closed(FileVersion version, SteadyTime now);  // IN_CLOSE_WRITE
  void renamed_in(FileVersion version, SteadyTime now);
  void writers_unknown();  // events were lost (IN_Q_OVERFLOW): nobody is known to write

  // Whether the file may be taken now, given the version on disk. `declares_its_end` says
  // whether the content proves it is complete; it is asked at most once a version, and only
  // when the answer matters.
  bool settled(const FileVersion& current, SteadyTime now, const SettleTimes& times,
               const std::function<bool()>& declares_its_end);

  // How long to wait before looking again while not settled.
  SteadyClock::duration recheck_after(const SettleTimes& times) const;

  const FileVersion& version() const { return version_; }
  // Written again after a round that left content: the fast path is closed for good.
  bool written_in_rounds() const { return written_in_rounds_; }

 private:
  void changed(SteadyTime now);
  bool fast_path_allowed(const std::function<bool()>& declares_its_end);

  FileVersion version_;
  SteadyTime last_change_;
  SteadyTime closed_at_;
  bool writing_ = false;           // written to and not closed since
  bool closed_ = false;            // closed (or renamed in) and not written since
  bool arrived_complete_ = false;  // renamed in and not written since
  bool history_known_ = false;     // seen from its creation (or its rename into the inbox)
  bool closed_with_content_ = false;
  bool written_in_rounds_ = false;
  std::optional<bool> declares_end_;  // cached for version_
};

}  // namespace lipsyncd::intake
