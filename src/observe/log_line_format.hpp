#pragma once
// Spelling shared by our spdlog formatters and sinks: UTC timestamps, level names, journald
// priorities, logfmt-style key=value text and JSON strings.

#include <spdlog/details/log_msg.h>

#include <string>
#include <string_view>

namespace lipsyncd::observe::detail {

// "2026-11-25T06:00:00.123Z"
std::string utc_timestamp(spdlog::log_clock::time_point time);
std::string_view level_name(spdlog::level::level_enum level) noexcept;
// syslog priorities as journald's PRIORITY= wants them (3 err, 4 warning, 6 info, 7 debug).
int journal_priority(spdlog::level::level_enum level) noexcept;
// One line of text: control characters (newlines included) shown as escapes.
void append_single_line(std::string& out, std::string_view text);
// A logfmt value: bare when it is a simple token, quoted and escaped otherwise.
void append_logfmt_value(std::string& out, std::string_view value);
// A JSON string literal with quotes.
void append_json_string(std::string& out, std::string_view text);

inline std::string_view payload_of(const spdlog::details::log_msg& msg) {
  return {msg.payload.data(), msg.payload.size()};
}

}  // namespace lipsyncd::observe::detail
