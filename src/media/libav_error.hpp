#pragma once
// Turns libav* failures into lipsyncd::Error. libav's own logging is silenced and the last
// message it wanted to print is kept per thread, so an error can say what libav saw (e.g.
// "moov atom not found") instead of it appearing on stderr.

#include <filesystem>
#include <string>
#include <string_view>

namespace lipsyncd::media::libav {

// Idempotent and thread-safe; every entry point of the media module calls it first.
void initialize();

// "Invalid data found when processing input" for AVERROR_INVALIDDATA, and so on.
std::string error_text(int av_error);
// The last error libav logged on this thread (empty when none); reading it clears it.
std::string take_last_log_message();

// Throws Error(reason_code, "<what> <file>: <libav's explanation>", hint) when av_error < 0.
void check(int av_error, std::string_view reason_code, std::string_view what,
           const std::filesystem::path& file, std::string_view hint = {});
[[noreturn]] void fail(int av_error, std::string_view reason_code, std::string_view what,
                       const std::filesystem::path& file, std::string_view hint = {});

}  // namespace lipsyncd::media::libav
