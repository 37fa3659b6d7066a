#include "json_line_formatter.hpp"

#include "lipsyncd/observe/log_fields.hpp"
#include "log_line_format.hpp"

namespace lipsyncd::observe::detail {

void JsonLineFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  std::string line = "{\"ts\":";
  append_json_string(line, utc_timestamp(msg.time));
  line += ",\"level\":";
  append_json_string(line, level_name(msg.level));
  line += ",\"msg\":";
  append_json_string(line, payload_of(msg));
  if (!node_.empty()) {
    line += ",\"node\":";
    append_json_string(line, node_);
  }
  if (const auto* fields = current_log_fields()) {
    for (const auto& field : *fields) {
      line += ',';
      append_json_string(line, field.key);
      line += ':';
      if (field.numeric) {
        line += field.value;
      } else {
        append_json_string(line, field.value);
      }
    }
  }
  line += "}\n";
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> JsonLineFormatter::clone() const {
  return std::make_unique<JsonLineFormatter>(node_);
}

}  // namespace lipsyncd::observe::detail
