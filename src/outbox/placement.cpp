#include "lipsyncd/outbox/placement.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/durable_file.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/file_name.hpp"
#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd::outbox {
namespace {

// Enough candidates for any realistic pile of same-named results; more means a runaway loop.
constexpr int kMaxNumberedNames = 10000;

// The names themselves, not what a symlink points to: a link someone put in the outbox is theirs.
bool same_inode(const std::filesystem::path& a, const std::filesystem::path& b) {
  struct stat sa {};
  struct stat sb {};
  return ::lstat(a.c_str(), &sa) == 0 && ::lstat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
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

// One file of a group on its way into the directory. `linkable` is on the directory's
// filesystem: the source itself, or a durable hidden copy made beside the destination.
struct Publishing {
  std::filesystem::path source;
  std::string name;
  bool same_filesystem = true;
  std::filesystem::path copy_destination;  // the name the hidden copy is made beside
  std::unique_ptr<AtomicFile> copy;  // AtomicFile cannot move; its destructor removes the copy

  const std::filesystem::path& linkable() {
    if (same_filesystem) return source;
    if (!copy) {
      copy = std::make_unique<AtomicFile>(copy_destination);
      copy_contents(source, *copy);
      // commit() would rename over an existing name; the durable temporary is linked instead.
      copy->sync();
    }
    return copy->temporary_path();
  }
};

// Who holds a candidate name: nobody, this very file (placed by an earlier, interrupted run),
// or someone else.
enum class Holder { nobody, this_file, same_bytes, someone_else };

Holder holder_of(Publishing& file, const std::filesystem::path& candidate) {
  struct stat st {};
  if (::lstat(candidate.c_str(), &st) != 0) {
    if (errno == ENOENT) return Holder::nobody;
    throw_disk_error("cannot look at", candidate, errno);
  }
  if (same_inode(file.source, candidate)) return Holder::this_file;
  if (file.copy && same_inode(file.copy->temporary_path(), candidate)) return Holder::this_file;
  // Across filesystems an earlier run's copy has its own inode: identical bytes are the sign.
  if (!file.same_filesystem && S_ISREG(st.st_mode) && same_contents(file.source, candidate)) {
    return Holder::same_bytes;
  }
  return Holder::someone_else;
}

// Withdraws names that certainly hold our own files (same inode): never anyone else's.
void withdraw_ours(std::vector<Publishing>& files, int n, const std::filesystem::path& directory) {
  for (auto& file : files) {
    const auto candidate = directory / numbered_name(file.name, n);
    if (holder_of(file, candidate) == Holder::this_file) remove_file(candidate);
  }
}

// Tries to publish the whole group under number n. False when a name of n is taken.
bool publish_as(std::vector<Publishing>& files, int n, const std::filesystem::path& directory) {
  std::vector<Holder> holders;
  for (auto& file : files) {
    holders.push_back(holder_of(file, directory / numbered_name(file.name, n)));
  }
  if (std::find(holders.begin(), holders.end(), Holder::someone_else) != holders.end()) {
    withdraw_ours(files, n, directory);  // a partial group left by a crash: not here
    return false;
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (holders[i] != Holder::nobody) continue;
    const auto candidate = directory / numbered_name(files[i].name, n);
    if (!link_if_free(files[i].linkable(), candidate)) {
      withdraw_ours(files, n, directory);  // taken between the look and the link
      return false;
    }
  }
  return true;
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

PlacedFiles place_together(const std::vector<Placement>& files,
                           const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  std::vector<Publishing> publishing;
  PlacedFiles placed;
  for (const auto& file : files) {
    Publishing item;
    item.source = file.source;
    item.name = file.name;
    item.same_filesystem = on_same_filesystem(file.source, directory);
    item.copy_destination = directory / file.name;
    placed.crossed_filesystems = placed.crossed_filesystems || !item.same_filesystem;
    publishing.push_back(std::move(item));
  }
  for (int n = 1; n <= kMaxNumberedNames; ++n) {
    if (!publish_as(publishing, n, directory)) continue;
    sync_directory(directory);
    for (const auto& file : publishing) {
      placed.destinations.push_back(directory / numbered_name(file.name, n));
    }
    return placed;  // the AtomicFile destructors remove the temporary copies
  }
  throw Error("no_free_name",
              "no free name for " + files.front().name + " in " + directory.string(),
              "clean up the folder", Permanence::transient);
}

MovedFile place_into(const std::filesystem::path& source, const std::filesystem::path& directory,
                     const std::string& name) {
  std::filesystem::create_directories(directory);
  if (std::filesystem::is_symlink(source) && !on_same_filesystem(source, directory)) {
    // A link is moved as a link (the rejected ones): never read what it points to.
    const auto placed = unused_path(directory, name);
    std::filesystem::copy_symlink(source, placed);
    sync_directory(directory);
    return {placed, true};
  }
  if (const auto node = special_node(source); node && !on_same_filesystem(source, directory)) {
    // A FIFO, socket or device (rejected by intake): opening it could block forever, and it
    // holds no data. The same kind of node is made under the new name instead.
    const auto placed = unused_path(directory, name);
    if (::mknod(placed.c_str(), node->st_mode, node->st_rdev) != 0) {
      throw_disk_error("cannot recreate", placed, errno);
    }
    sync_directory(directory);
    return {placed, true};
  }
  // On one filesystem link() places the symlink itself, not what it points to.
  const auto placed = place_together({{source, name}}, directory);
  return {placed.destinations.front(), placed.crossed_filesystems};
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
