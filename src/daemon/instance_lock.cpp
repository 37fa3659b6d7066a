#include "lipsyncd/daemon/instance_lock.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::daemon {
namespace {

// The pid the holder wrote, for the message; empty when unreadable (it is only a hint).
std::string holder_pid(int fd) {
  char text[32] = {};
  const auto got = ::pread(fd, text, sizeof text - 1, 0);
  if (got <= 0) return {};
  std::string pid(text, static_cast<std::size_t>(got));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

std::filesystem::path instance_lock_file(const std::filesystem::path& state_dir,
                                         std::string_view node) {
  return state_dir /
         (node.empty() ? std::string("lipsyncd.lock") : "lipsyncd-" + std::string(node) + ".lock");
}

InstanceLock InstanceLock::acquire(const std::filesystem::path& lock_file) {
  // O_CLOEXEC: a child process must never inherit (and so keep) the lock.
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    throw Error("folder_unusable",
                "cannot open the lock file " + lock_file.string() + ": " + std::strerror(errno),
                "check [paths] state and its permissions");
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      throw Error("folder_unusable",
                  "cannot lock " + lock_file.string() + ": " + std::strerror(errno),
                  "the state folder must be on a filesystem that supports flock(2)");
    }
    const auto pid = holder_pid(fd.get());
    throw Error("already_running",
                "another lipsyncd" + (pid.empty() ? std::string() : " (pid " + pid + ")") +
                    " is already running on the state folder " + lock_file.parent_path().string() +
                    " (it holds " + lock_file.string() + ")",
                "stop it first, or give this one its own [paths] state; status, retry and "
                "cancel work beside the running daemon");
  }
  // Ours now: the pid is for the message a second instance prints.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    // The lock is held all the same; only a second instance's message lacks our pid.
    spdlog::warn("cannot write the pid into {}: {}", lock_file.string(), std::strerror(errno));
  }
  return InstanceLock(lock_file, std::move(fd));
}

}  // namespace lipsyncd::daemon
