#include "lipsyncd/core/disk_error.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

namespace lipsyncd {

bool is_out_of_space(int errno_code) noexcept {
  return errno_code == ENOSPC || errno_code == EDQUOT;
}

Error disk_full(std::string message, const std::filesystem::path& folder) {
  return Error(std::string(kDiskFullReason), std::move(message),
               "free some space on the filesystem of " + folder.string() +
                   "; the job waits and goes on by itself",
               Permanence::transient);
}

Error disk_error(std::string_view what, const std::filesystem::path& path, int errno_code,
                 std::string_view otherwise_hint) {
  auto message = std::string(what) + " " + path.string() + ": " + std::strerror(errno_code);
  if (is_out_of_space(errno_code)) return disk_full(std::move(message), path.parent_path());
  return Error("disk_error", std::move(message), std::string(otherwise_hint),
               Permanence::transient);
}

void throw_disk_error(std::string_view what, const std::filesystem::path& path, int errno_code,
                      std::string_view otherwise_hint) {
  throw disk_error(what, path, errno_code, otherwise_hint);
}

}  // namespace lipsyncd
