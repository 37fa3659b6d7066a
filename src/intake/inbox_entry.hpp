#pragma once
// What a name in the inbox is, from lstat() alone (nothing is opened, so a FIFO can never
// block intake), and the rejections for the entries intake never reads.

#include <sys/types.h>

#include <filesystem>
#include <optional>

#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/intake/settle_rule.hpp"

namespace lipsyncd::intake {

enum class EntryKind { missing, regular, directory, symlink, special };

struct InboxEntry {
  EntryKind kind = EntryKind::missing;
  FileVersion version;  // from lstat(); meaningful unless missing
  mode_t mode = 0;
};

InboxEntry look_at(const std::filesystem::path& path);

// Which folder is at a path (following links): a deleted and recreated folder, or one
// mounted over it, is another.
struct FolderIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FolderIdentity&) const = default;
};
std::optional<FolderIdentity> identity_of(const std::filesystem::path& folder);

// A symbolic link ("symlink_not_followed") or a FIFO, socket or device
// ("not_a_regular_file"); nothing for regular files, folders and missing names.
std::optional<Rejection> rejection_for_unreadable(const std::filesystem::path& path,
                                                  const InboxEntry& entry);

}  // namespace lipsyncd::intake
