#pragma once
// The duplicate guard's key: SHA-256 over the bytes of both inputs and the options that
// change fal's output (model, forced sync mode). The output name does not count.

#include <filesystem>
#include <optional>
#include <string>

#include "lipsyncd/core/sync_mode.hpp"

namespace lipsyncd::spool {

// Lower-case hex SHA-256 of one file. Throws lipsyncd::Error "disk_error" when unreadable.
std::string sha256_of_file(const std::filesystem::path& file);

std::string job_content_hash(const std::filesystem::path& video, const std::filesystem::path& audio,
                             const std::string& model, const std::optional<SyncMode>& sync_mode);

}  // namespace lipsyncd::spool
