#pragma once
// What a file in the inbox is, judged by its name and its first bytes (no decoding: the media
// module does the real checks later), and which names intake never touches.

#include <filesystem>
#include <string_view>

namespace lipsyncd::intake {

enum class MediaKind { video, audio, image, manifest, unknown };

// Hidden and temporary names: ".*", "~*", "*.part", "*.tmp", "*.crdownload".
bool is_ignored_name(std::string_view file_name);

// "x.job.json" (top level) and "job.json" (inside a job folder).
bool is_manifest_name(std::string_view file_name);

// By extension when it is unambiguous; MP4-family files and unknown extensions are sniffed
// (an "M4A " brand is audio). Images count as pictures the media check will refuse with a
// clear reason, so they pair like videos.
MediaKind classify_file(const std::filesystem::path& file);

// The stem two files pair on: the name without its last extension ("my clip.mp4" -> "my clip").
std::string stem_of(const std::filesystem::path& file);

}  // namespace lipsyncd::intake
