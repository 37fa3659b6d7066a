#pragma once
// Linux allows 255 bytes in one file name. Names lipsyncd derives from users' names (results,
// sidecars, error reports, numbered copies, hidden temporaries) are kept within that, cut at a
// UTF-8 character boundary, so a long but valid input name never makes a job fail.

#include <cstddef>
#include <string>
#include <string_view>

namespace lipsyncd {

inline constexpr std::size_t kMaxFileNameBytes = 255;

// The longest beginning of `text` of at most `max_bytes` that ends on a character boundary.
std::string utf8_prefix(std::string_view text, std::size_t max_bytes);

// `name` when it fits in `max_bytes`; otherwise its beginning is shortened so that it plus
// its last `keep_tail` bytes (the extensions, e.g. ".lipsync.mp4") fit.
std::string fit_file_name(std::string_view name, std::size_t keep_tail,
                          std::size_t max_bytes = kMaxFileNameBytes);

// "." + (the beginning of) `name` + `suffix`, within the limit: a hidden sibling for writing.
std::string hidden_temporary_name(std::string_view name, std::string_view suffix);

}  // namespace lipsyncd
