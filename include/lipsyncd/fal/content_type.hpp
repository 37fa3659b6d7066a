#pragma once
// The MIME type of a media file from its first bytes (not its name): fal's model and CDN
// trust the declared type, and a renamed .mov must not be announced as video/mp4.

#include <filesystem>
#include <string>
#include <string_view>

namespace lipsyncd::fal {

// e.g. "video/mp4", "video/quicktime", "audio/wav", "audio/mpeg", "audio/flac";
// "application/octet-stream" when the format is not recognised.
std::string content_type_from_bytes(std::string_view first_bytes);
// Reads the first bytes of `file`; throws lipsyncd::Error ("input_unreadable") if it cannot.
std::string sniff_content_type(const std::filesystem::path& file);

}  // namespace lipsyncd::fal
