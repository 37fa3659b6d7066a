#pragma once
// Removes the folders of a folder job once the daemon has moved its files out of the inbox,
// so nothing but empty shells would remain there.

#include <filesystem>
#include <vector>

namespace lipsyncd::intake {

// For each moved file, removes its parent folders from the deepest up to `folder` itself, as
// long as each is empty; stops at the first that is not. Only ancestors of files the daemon
// moved are touched, and rmdir() never removes a folder that still holds anything (a file
// being written into it included). Nothing happens when `folder` is empty (not a folder job)
// or a file is not inside it. Never throws.
void remove_emptied_folders(const std::filesystem::path& folder,
                            const std::vector<std::filesystem::path>& moved_files);

}  // namespace lipsyncd::intake
