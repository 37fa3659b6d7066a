#include "text_formatter.hpp"

#include "lipsyncd/observe/log_fields.hpp"
#include "log_line_format.hpp"

namespace lipsyncd::observe::detail {

void TextFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  std::string line = utc_timestamp(msg.time);
  line += ' ';
  const auto level = level_name(msg.level);
  line += level;
  line.append(level.size() < 5 ? 6 - level.size() : 1, ' ');
  append_single_line(line, payload_of(msg));
  if (const auto* fields = current_log_fields()) {
    for (const auto& field : *fields) {
      line += ' ';
      line += field.key;
      line += '=';
      append_logfmt_value(line, field.value);
    }
  }
  if (!node_.empty()) {
    line += " node=";
    append_logfmt_value(line, node_);
  }
  line += '\n';
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> TextFormatter::clone() const {
  return std::make_unique<TextFormatter>(node_);
}

}  // namespace lipsyncd::observe::detail
