#pragma once
// Places files into the daemon's user-facing folders (outbox/, done/, error/) without ever
// overwriting a file that belongs to someone else: a taken name gets a numbered suffix. A
// name appears in one step (link()); across filesystems the bytes are first copied durably
// beside it (core/durable_file.hpp), and the result says so for the log.

#include <filesystem>
#include <string>
#include <vector>

namespace lipsyncd::outbox {

struct MovedFile {
  std::filesystem::path destination;
  bool crossed_filesystems = false;  // copied then unlinked: worth a log line
};

// "clip.lipsync.mp4" -> "clip.lipsync-2.mp4" for n = 2 (the suffix goes before the final
// extension, so the sidecar and the video keep matching names).
std::string numbered_name(const std::string& name, int n);

// The first of name, name-2, name-3, ... that does not exist in `directory`.
std::filesystem::path unused_path(const std::filesystem::path& directory, const std::string& name);

// One file of a group placed together: `source` is published in the directory as `name`.
struct Placement {
  std::filesystem::path source;
  std::string name;
};

struct PlacedFiles {
  std::vector<std::filesystem::path> destinations;  // in the order of the placements
  bool crossed_filesystems = false;
};

// Places a group of files (a video and its sidecar) into `directory` under ONE common number:
// every name as given, or every name-2, name-3, ... so the group keeps matching names. A
// number is used only when all of its names are free; no existing file is ever replaced
// (link(), which refuses a taken name, never rename()). Each name appears complete in one
// step. The sources are kept. Idempotent after a crash: names already holding these very
// files (same inode, or identical bytes after a cross-filesystem copy) are reused; a partial
// group of ours at a number that someone else took meanwhile is withdrawn.
PlacedFiles place_together(const std::vector<Placement>& files,
                           const std::filesystem::path& directory);

// Places `source` into `directory` under `name` (or a numbered variant when taken), keeping
// the source. The name
// appears complete in one step (link, never a visible partial file) and nothing is overwritten.
// Idempotent after a crash: when a previous run already placed this very file (same inode, or
// identical bytes after a cross-filesystem copy) under a candidate name, that name is reused.
MovedFile place_into(const std::filesystem::path& source, const std::filesystem::path& directory,
                     const std::string& name);
// place_into, then removes `source`.
MovedFile move_into(const std::filesystem::path& source, const std::filesystem::path& directory,
                    const std::string& name);

// Whether two files hold the same bytes (sizes first, then contents).
bool same_contents(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace lipsyncd::outbox
