#pragma once
// Moves one file durably: a rename when source and destination share a filesystem, else a
// copy to a hidden temporary beside the destination, fsync, rename, fsync of the folder and
// only then the unlink of the source (a crash leaves at worst two copies, never none).

#include <filesystem>

namespace lipsyncd::spool {

enum class MoveKind { renamed, copied };

// Throws lipsyncd::Error "input_vanished" (permanent) when `from` does not exist,
// "disk_error" (transient) for anything else. The destination must not exist.
MoveKind move_file_durably(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace lipsyncd::spool
