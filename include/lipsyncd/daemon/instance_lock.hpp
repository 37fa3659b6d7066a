#pragma once
// One daemon per state folder: an exclusive flock(2) on a lock file in the state folder, held
// for the life of the process (the kernel drops it on any exit, kill -9 included). Two daemons
// on one job store would both recover, claim and submit the same jobs: paying twice.
// The commands that only read or nudge the store (status, retry, cancel) do not take it.

#include <filesystem>
#include <string>
#include <string_view>

#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd::daemon {

// <state>/lipsyncd.lock; with a fleet node name, <state>/lipsyncd-<node>.lock, so that each
// node of a fleet sharing a state folder can hold its own.
std::filesystem::path instance_lock_file(const std::filesystem::path& state_dir,
                                         std::string_view node = {});

class InstanceLock {
 public:
  // Takes the lock without waiting and writes our pid into the file. Throws lipsyncd::Error
  // "already_running" (naming the holder's pid when it can) when another process holds it,
  // "folder_unusable" when the file cannot be opened.
  static InstanceLock acquire(const std::filesystem::path& lock_file);

  const std::filesystem::path& file() const { return file_; }

 private:
  InstanceLock(std::filesystem::path file, UniqueFd fd)
      : file_(std::move(file)), fd_(std::move(fd)) {}

  std::filesystem::path file_;
  UniqueFd fd_;
};

}  // namespace lipsyncd::daemon
