#include "inbox_entry.hpp"

#include <sys/stat.h>

#include <string>

namespace lipsyncd::intake {
namespace {

std::string special_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISCHR(mode)) return "a character device";
  return "not a regular file";
}

}  // namespace

InboxEntry look_at(const std::filesystem::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return {};
  InboxEntry entry;
  entry.mode = info.st_mode;
  entry.version = {
      static_cast<std::uintmax_t>(info.st_size),
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec,
      static_cast<std::uint64_t>(info.st_ino)};
  if (S_ISREG(info.st_mode)) {
    entry.kind = EntryKind::regular;
  } else if (S_ISDIR(info.st_mode)) {
    entry.kind = EntryKind::directory;
  } else if (S_ISLNK(info.st_mode)) {
    entry.kind = EntryKind::symlink;
  } else {
    entry.kind = EntryKind::special;
  }
  return entry;
}

std::optional<FolderIdentity> identity_of(const std::filesystem::path& folder) {
  struct stat info {};
  if (::stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) return std::nullopt;
  return FolderIdentity{info.st_dev, info.st_ino};
}

std::optional<Rejection> rejection_for_unreadable(const std::filesystem::path& path,
                                                  const InboxEntry& entry) {
  const std::string name = path.filename().string();
  if (entry.kind == EntryKind::symlink) {
    // A link could point anywhere (another user's files, /etc): it is moved to error/ as the
    // link itself, never read.
    return Rejection{"symlink_not_followed",
                     name + " is a symbolic link; lipsyncd never follows links out of the inbox",
                     "copy or move the file itself into the inbox",
                     {path}};
  }
  if (entry.kind == EntryKind::special) {
    return Rejection{"not_a_regular_file",
                     name + " is " + special_kind(entry.mode) +
                         ", not a regular file; lipsyncd only takes video and audio files",
                     "drop the video and audio files themselves (copy or move them in)",
                     {path}};
  }
  return std::nullopt;
}

}  // namespace lipsyncd::intake
