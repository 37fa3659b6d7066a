#pragma once
// Who may run on a state folder, enforced with flock(2) locks held for the life of the process
// (the kernel drops them on any exit, kill -9 included):
//   - With the SQLite job store, one daemon: the store is the folder's own, and two daemons on
//     it would both recover, claim and submit the same jobs, paying twice. It holds
//     <state>/lipsyncd.lock exclusively, whatever its node name.
//   - In a fleet (a PostgreSQL store shared by the nodes), one daemon per [fleet] node: each
//     holds <state>/lipsyncd-<node>.lock exclusively, and <state>/lipsyncd.lock shared, which
//     keeps a SQLite daemon (or a lipsyncd from before fleets) off the folder the nodes share.
// The pid of an exclusive holder is in its lock file, for the message a second one prints.
// The commands that only read or nudge the store (status, retry, cancel) take no lock.

#include <filesystem>
#include <string>
#include <string_view>

#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd::daemon {

// <state>/lipsyncd.lock, the folder's lock; with a node name, <state>/lipsyncd-<node>.lock.
std::filesystem::path instance_lock_file(const std::filesystem::path& state_dir,
                                         std::string_view node = {});

enum class StateFolderUse {
  one_daemon,    // SQLite: the job store lives in the folder
  one_per_node,  // fleet: the job store is a shared database; the nodes share the folder
};

class InstanceLock {
 public:
  // Takes the locks `use` calls for, without waiting, naming `node` in its messages. Throws
  // lipsyncd::Error "already_running" (naming the holder's pid when it can) when another
  // process holds a lock we need, "folder_unusable" when a lock file cannot be opened or the
  // filesystem has no flock(2).
  static InstanceLock acquire(const std::filesystem::path& state_dir, std::string_view node,
                              StateFolderUse use);

  // The lock file that keeps a second one of us away (the node's in a fleet).
  const std::filesystem::path& file() const { return file_; }

 private:
  InstanceLock(std::filesystem::path file, UniqueFd folder, UniqueFd node)
      : file_(std::move(file)), folder_(std::move(folder)), node_(std::move(node)) {}

  std::filesystem::path file_;
  UniqueFd folder_;  // lipsyncd.lock: exclusive for one_daemon, shared for one_per_node
  UniqueFd node_;    // lipsyncd-<node>.lock (one_per_node only)
};

}  // namespace lipsyncd::daemon
