#include "lipsyncd/core/disk_error.hpp"

#include <cerrno>
#include <cstring>

namespace lipsyncd {

bool is_out_of_space(int errno_code) noexcept {
  return errno_code == ENOSPC || errno_code == EDQUOT;
}

Error disk_error(std::string_view what, const std::filesystem::path& path, int errno_code,
                 std::string_view otherwise_hint) {
  const bool full = is_out_of_space(errno_code);
  return Error(full ? std::string(kDiskFullReason) : "disk_error",
               std::string(what) + " " + path.string() + ": " + std::strerror(errno_code),
               full ? "free some space on the filesystem of " + path.parent_path().string() +
                          "; the job waits and goes on by itself"
                    : std::string(otherwise_hint),
               Permanence::transient);
}

void throw_disk_error(std::string_view what, const std::filesystem::path& path, int errno_code,
                      std::string_view otherwise_hint) {
  throw disk_error(what, path, errno_code, otherwise_hint);
}

}  // namespace lipsyncd
