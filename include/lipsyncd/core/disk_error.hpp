#pragma once
// Filesystem failures as lipsyncd::Error. A full disk (or quota) gets its own reason code,
// "disk_full", because the daemon waits for space to come back instead of counting it as a
// failed attempt: nothing about the job itself is wrong.

#include <filesystem>
#include <string>
#include <string_view>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd {

inline constexpr std::string_view kDiskFullReason = "disk_full";

// ENOSPC or EDQUOT.
bool is_out_of_space(int errno_code) noexcept;

// Reason "disk_full", transient, with the hint to free space on the filesystem of `folder`.
Error disk_full(std::string message, const std::filesystem::path& folder);

// "<what> <path>: <strerror>", reason "disk_full" (hint: free space) or "disk_error" (hint:
// `otherwise_hint`). Always transient: permissions and space can both be fixed by a person.
Error disk_error(std::string_view what, const std::filesystem::path& path, int errno_code,
                 std::string_view otherwise_hint = "check the folder's permissions and free space");

[[noreturn]] void throw_disk_error(
    std::string_view what, const std::filesystem::path& path, int errno_code,
    std::string_view otherwise_hint = "check the folder's permissions and free space");

}  // namespace lipsyncd
