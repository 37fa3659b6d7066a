#include "lipsyncd/outbox/file_mover.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/file_name.hpp"
#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd::outbox {
namespace {

// Enough candidates for any realistic pile of same-named results; more means a runaway loop.
constexpr int kMaxNumberedNames = 10000;

bool same_inode(const std::filesystem::path& a, const std::filesystem::path& b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

void copy_contents(const std::filesystem::path& source, AtomicFile& target) {
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) throw_disk_error("cannot open", source, errno);
  std::array<char, 1 << 16> buffer{};
  for (;;) {
    const ssize_t got = ::read(in.get(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_disk_error("cannot read", source, errno);
    }
    if (got == 0) break;
    target.write(std::string_view(buffer.data(), static_cast<size_t>(got)));
  }
}

// link() creates the name only if it is free: the no-overwrite guarantee without a race.
bool link_if_free(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return true;
  if (errno == EEXIST) return false;
  throw_disk_error("cannot link into place", to, errno);
}

void remove_file(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw_disk_error("cannot remove", path, errno);
}

// Publishes a file that lives on the same filesystem as `directory`.
std::filesystem::path link_into(const std::filesystem::path& source,
                                const std::filesystem::path& directory, const std::string& name) {
  for (int n = 1; n <= kMaxNumberedNames; ++n) {
    const auto candidate = directory / numbered_name(name, n);
    if (same_inode(source, candidate)) return candidate;  // published before a crash
    if (link_if_free(source, candidate)) return candidate;
  }
  throw Error("no_free_name", "no free name for " + name + " in " + directory.string(),
              "clean up the folder", Permanence::transient);
}

// The cross-filesystem variant: copy beside the destination first, then link into place.
std::filesystem::path copy_into(const std::filesystem::path& source,
                                const std::filesystem::path& directory, const std::string& name) {
  for (int n = 1; n <= kMaxNumberedNames; ++n) {
    const auto candidate = directory / numbered_name(name, n);
    if (!std::filesystem::exists(candidate)) break;
    if (same_contents(source, candidate)) return candidate;
  }
  AtomicFile copy(directory / name);
  copy_contents(source, copy);
  // commit() would rename over an existing name; the durable temporary is linked instead.
  if (::fsync(copy.fd()) != 0) throw_disk_error("cannot flush", copy.temporary_path(), errno);
  const auto placed = link_into(copy.temporary_path(), directory, name);
  sync_directory(directory);
  return placed;  // the AtomicFile destructor removes the temporary name
}

bool on_same_filesystem(const std::filesystem::path& file, const std::filesystem::path& dir) {
  struct stat sf {};
  struct stat sd {};
  if (::lstat(file.c_str(), &sf) != 0) throw_disk_error("cannot stat", file, errno);
  if (::stat(dir.c_str(), &sd) != 0) throw_disk_error("cannot stat", dir, errno);
  return sf.st_dev == sd.st_dev;
}

// The lstat() of a path that is neither a regular file, a folder nor a link.
std::optional<struct stat> special_node(const std::filesystem::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 || S_ISREG(info.st_mode) || S_ISDIR(info.st_mode) ||
      S_ISLNK(info.st_mode)) {
    return std::nullopt;
  }
  return info;
}

}  // namespace

std::string numbered_name(const std::string& name, int n) {
  if (n <= 1) return name;
  const auto suffix = "-" + std::to_string(n);
  // "clip.lipsync.mp4" -> "clip.lipsync-2.mp4": the suffix goes before the final extension so
  // the video and its sidecar ("clip.lipsync-2.json") stay recognisable as one result.
  const auto last_dot = name.rfind('.');
  if (last_dot == std::string::npos || last_dot == 0) {
    return fit_file_name(name + suffix, suffix.size());
  }
  return fit_file_name(name.substr(0, last_dot) + suffix + name.substr(last_dot),
                       suffix.size() + name.size() - last_dot);
}

std::filesystem::path unused_path(const std::filesystem::path& directory, const std::string& name) {
  for (int n = 1; n <= kMaxNumberedNames; ++n) {
    auto candidate = directory / numbered_name(name, n);
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(candidate, ec))) return candidate;
  }
  throw Error("no_free_name", "no free name for " + name + " in " + directory.string(),
              "clean up the folder", Permanence::transient);
}

MovedFile place_into(const std::filesystem::path& source, const std::filesystem::path& directory,
                     const std::string& name) {
  std::filesystem::create_directories(directory);
  if (on_same_filesystem(source, directory)) {
    // link instead of rename: rename would silently replace a file of another job.
    const auto placed = link_into(source, directory, name);
    sync_directory(directory);
    return {placed, false};
  }
  if (std::filesystem::is_symlink(source)) {
    // A link is moved as a link (the rejected ones): never read what it points to.
    const auto placed = unused_path(directory, name);
    std::filesystem::copy_symlink(source, placed);
    sync_directory(directory);
    return {placed, true};
  }
  if (const auto node = special_node(source)) {
    // A FIFO, socket or device (rejected by intake): opening it could block forever, and it
    // holds no data. The same kind of node is made under the new name instead.
    const auto placed = unused_path(directory, name);
    if (::mknod(placed.c_str(), node->st_mode, node->st_rdev) != 0) {
      throw_disk_error("cannot recreate", placed, errno);
    }
    sync_directory(directory);
    return {placed, true};
  }
  return {copy_into(source, directory, name), true};
}

MovedFile move_into(const std::filesystem::path& source, const std::filesystem::path& directory,
                    const std::string& name) {
  auto placed = place_into(source, directory, name);
  remove_file(source);
  sync_directory(source.parent_path());
  return placed;
}

bool same_contents(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  const auto size_a = std::filesystem::file_size(a, ec);
  if (ec) return false;
  const auto size_b = std::filesystem::file_size(b, ec);
  if (ec || size_a != size_b) return false;
  UniqueFd fa(::open(a.c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd fb(::open(b.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fa.valid() || !fb.valid()) return false;
  std::array<char, 1 << 16> ba{};
  std::array<char, 1 << 16> bb{};
  for (;;) {
    const ssize_t ga = ::read(fa.get(), ba.data(), ba.size());
    const ssize_t gb = ::read(fb.get(), bb.data(), bb.size());
    if (ga != gb || ga < 0) return false;
    if (ga == 0) return true;
    if (std::memcmp(ba.data(), bb.data(), static_cast<size_t>(ga)) != 0) return false;
  }
}

}  // namespace lipsyncd::outbox
