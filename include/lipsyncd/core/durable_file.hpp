#pragma once
// The crash-safety promise in one place: every copy or move lipsyncd makes between its folders
// goes through these, on top of AtomicFile. A destination appears complete or not at all, is
// on disk (data and folder entry) when the call returns, and a moved source is removed only
// after its copy is durable: a crash leaves at worst two copies of a file, never none.
//
// Failures throw lipsyncd::Error: "file_vanished" (permanent) when the source does not exist,
// "disk_full" or "disk_error" (transient, see disk_error.hpp) for anything else.

#include <filesystem>

#include "lipsyncd/core/atomic_file.hpp"

namespace lipsyncd {

inline constexpr const char* kFileVanishedReason = "file_vanished";

// Appends the bytes of `source` to `target` (not yet committed). A read error throws: a copy
// is never committed short.
void copy_contents(const std::filesystem::path& source, AtomicFile& target);

// A durable copy of `from` at `to` with `from`'s permission bits, replacing `to` if it exists.
void durable_copy(const std::filesystem::path& from, const std::filesystem::path& to);

enum class MoveKind { renamed, copied };

// Moves `from` to `to`, which must not exist: a rename (then an fsync of both folders) on one
// filesystem; across filesystems (EXDEV) a durable_copy, then the unlink of `from` and an fsync
// of its folder. The result says which, for the log: a copy is not atomic for its readers.
MoveKind durable_move(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace lipsyncd
