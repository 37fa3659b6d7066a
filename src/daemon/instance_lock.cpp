#include "lipsyncd/daemon/instance_lock.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::daemon {
namespace {

// What fleet nodes write into the folder's lock, which they hold shared: no one pid is theirs.
constexpr std::string_view kFleetMark = "fleet";

// What the holder wrote (a pid, or kFleetMark), for the message; empty when unreadable.
std::string holder_of(int fd) {
  char text[32] = {};
  const auto got = ::pread(fd, text, sizeof text - 1, 0);
  if (got <= 0) return {};
  std::string holder(text, static_cast<std::size_t>(got));
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
  return holder;
}

std::string pid_part(const std::string& holder) {
  const bool is_pid =
      !holder.empty() && holder.find_first_not_of("0123456789") == std::string::npos;
  return is_pid ? " (pid " + holder + ")" : std::string();
}

UniqueFd open_lock_file(const std::filesystem::path& lock_file) {
  // O_CLOEXEC: a child process must never inherit (and so keep) the lock.
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    throw Error("folder_unusable",
                "cannot open the lock file " + lock_file.string() + ": " + std::strerror(errno),
                "check [paths] state and its permissions");
  }
  return fd;
}

// True when we got it; false when another process holds it in a conflicting mode.
bool try_lock(int fd, int mode, const std::filesystem::path& lock_file) {
  if (::flock(fd, mode | LOCK_NB) == 0) return true;
  if (errno == EWOULDBLOCK) return false;
  throw Error("folder_unusable", "cannot lock " + lock_file.string() + ": " + std::strerror(errno),
              "the state folder must be on a filesystem that supports flock(2) (with NFS, "
              "version 4 or the lock manager of version 3)");
}

// The words a second instance reads; the lock is held all the same when writing fails.
void write_holder(int fd, std::string_view holder, const std::filesystem::path& lock_file) {
  const std::string line = std::string(holder) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, line.data(), line.size(), 0) < 0) {
    spdlog::warn("cannot write into {}: {}", lock_file.string(), std::strerror(errno));
  }
}

[[noreturn]] void refuse_second_daemon(const std::string& holder,
                                       const std::filesystem::path& lock_file) {
  const auto folder = lock_file.parent_path().string();
  if (holder == kFleetMark) {
    throw Error("already_running",
                "lipsyncd fleet nodes (with a PostgreSQL [store] url) are already running on "
                "the state folder " +
                    folder +
                    "; this daemon has no [store] url, and its "
                    "SQLite store cannot share the folder with them",
                "give this daemon the fleet's [store] url and a [fleet] node name of its own, "
                "or its own [paths] state");
  }
  throw Error("already_running",
              "another lipsyncd" + pid_part(holder) + " is already running on the state folder " +
                  folder + " (it holds " + lock_file.string() + ")",
              "stop it first, or give this one its own [paths] state; status, retry and "
              "cancel work beside the running daemon (daemons share a state folder only as "
              "fleet nodes: a PostgreSQL [store] url and distinct [fleet] node names)");
}

[[noreturn]] void refuse_fleet_node_beside_sqlite_daemon(const std::string& holder,
                                                         const std::filesystem::path& lock_file) {
  throw Error("already_running",
              "a lipsyncd without [store] url" + pid_part(holder) +
                  " is already running on the state folder " + lock_file.parent_path().string() +
                  " with its SQLite store there; fleet nodes cannot share the folder with it",
              "stop it (or give it the fleet's [store] url), or give the fleet another "
              "[paths] state");
}

[[noreturn]] void refuse_second_node(std::string_view node, const std::string& holder,
                                     const std::filesystem::path& lock_file) {
  throw Error("already_running",
              "another lipsyncd with [fleet] node = \"" + std::string(node) + "\"" +
                  pid_part(holder) + " is already running on the state folder " +
                  lock_file.parent_path().string() + " (it holds " + lock_file.string() + ")",
              "stop it first, or give this one a [fleet] node name of its own; status, retry "
              "and cancel work beside the running daemon");
}

}  // namespace

std::filesystem::path instance_lock_file(const std::filesystem::path& state_dir,
                                         std::string_view node) {
  return state_dir /
         (node.empty() ? std::string("lipsyncd.lock") : "lipsyncd-" + std::string(node) + ".lock");
}

InstanceLock InstanceLock::acquire(const std::filesystem::path& state_dir, std::string_view node,
                                   StateFolderUse use) {
  const auto folder_file = instance_lock_file(state_dir);
  UniqueFd folder = open_lock_file(folder_file);
  if (use == StateFolderUse::one_daemon) {
    if (!try_lock(folder.get(), LOCK_EX, folder_file)) {
      refuse_second_daemon(holder_of(folder.get()), folder_file);
    }
    write_holder(folder.get(), std::to_string(::getpid()), folder_file);
    return InstanceLock(folder_file, std::move(folder), UniqueFd());
  }

  // Shared with the other nodes; exclusive holders are SQLite daemons (this version's or an
  // older one's), which must not run on the folder a fleet shares.
  if (!try_lock(folder.get(), LOCK_SH, folder_file)) {
    refuse_fleet_node_beside_sqlite_daemon(holder_of(folder.get()), folder_file);
  }
  write_holder(folder.get(), kFleetMark, folder_file);
  if (node.empty()) throw std::invalid_argument("InstanceLock: a fleet node needs a name");
  const auto node_file = instance_lock_file(state_dir, node);
  UniqueFd node_fd = open_lock_file(node_file);
  if (!try_lock(node_fd.get(), LOCK_EX, node_file)) {
    refuse_second_node(node, holder_of(node_fd.get()), node_file);
  }
  write_holder(node_fd.get(), std::to_string(::getpid()), node_file);
  return InstanceLock(node_file, std::move(folder), std::move(node_fd));
}

}  // namespace lipsyncd::daemon
