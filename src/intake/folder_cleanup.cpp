#include "lipsyncd/intake/folder_cleanup.hpp"

#include <unistd.h>

#include <cerrno>

namespace lipsyncd::intake {
namespace fs = std::filesystem;

namespace {

bool is_inside_or_same(const fs::path& path, const fs::path& folder) {
  const auto relative = path.lexically_relative(folder);
  return !relative.empty() && *relative.begin() != "..";
}

}  // namespace

void remove_emptied_folders(const fs::path& folder, const std::vector<fs::path>& moved_files) {
  if (folder.empty()) return;
  const fs::path top = folder.lexically_normal();
  for (const auto& file : moved_files) {
    fs::path dir = file.lexically_normal().parent_path();
    while (is_inside_or_same(dir, top)) {
      // rmdir() refuses a folder that is not empty: the check and the removal are one step.
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) break;
      if (dir == top) break;
      dir = dir.parent_path();
    }
  }
}

}  // namespace lipsyncd::intake
