#include "log_line_format.hpp"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

namespace lipsyncd::observe::detail {
namespace {

void append_escaped_control(std::string& out, char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
  }
}

bool is_control(char c) noexcept {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

}  // namespace

std::string utc_timestamp(spdlog::log_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t whole = seconds.count();
  std::tm utc{};
  gmtime_r(&whole, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

std::string_view level_name(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

int journal_priority(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;
  }
}

void append_single_line(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (is_control(c)) {
      append_escaped_control(out, c);
    } else {
      out += c;
    }
  }
}

void append_logfmt_value(std::string& out, std::string_view value) {
  bool bare = !value.empty();
  for (const char c : value) bare = bare && !is_control(c) && c != ' ' && c != '"' && c != '=';
  if (bare) {
    out += value;
    return;
  }
  // Quoted logfmt values use JSON's escapes, which every logfmt reader understands.
  append_json_string(out, value);
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (is_control(c)) {
      append_escaped_control(out, c);
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace lipsyncd::observe::detail
