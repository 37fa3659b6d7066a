#include "redacting_sink.hpp"

#include <optional>

#include "lipsyncd/observe/log_fields.hpp"
#include "log_line_format.hpp"

namespace lipsyncd::observe::detail {

RedactingSink::RedactingSink(Redactor redactor,
                             std::vector<std::shared_ptr<spdlog::sinks::sink>> children)
    : redactor_(std::move(redactor)), children_(std::move(children)) {}

void RedactingSink::log(const spdlog::details::log_msg& msg) {
  const std::string payload = redactor_.redact(payload_of(msg));
  spdlog::details::log_msg redacted = msg;
  redacted.payload = spdlog::string_view_t(payload.data(), payload.size());

  // Fields are only copied when one of them holds a secret: the common case costs nothing.
  std::optional<LogFields> redacted_fields;
  if (const auto* fields = current_log_fields()) {
    for (const auto& field : *fields) {
      if (!redactor_.contains_secret(field.value)) continue;
      redacted_fields = *fields;
      for (auto& copy : *redacted_fields) {
        auto masked = redactor_.redact(copy.value);
        if (masked != copy.value) copy.numeric = false;  // the mask is text, not a number
        copy.value = std::move(masked);
      }
      break;
    }
  }
  std::optional<ScopedLogFields> scope;
  if (redacted_fields) scope.emplace(*redacted_fields);

  for (const auto& child : children_) {
    if (child->should_log(redacted.level)) child->log(redacted);
  }
}

void RedactingSink::flush() {
  for (const auto& child : children_) child->flush();
}

void RedactingSink::set_pattern(const std::string& /*pattern*/) {}

void RedactingSink::set_formatter(std::unique_ptr<spdlog::formatter> /*formatter*/) {}

}  // namespace lipsyncd::observe::detail
