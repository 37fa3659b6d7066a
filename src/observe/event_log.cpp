#include "lipsyncd/observe/event_log.hpp"

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <cmath>

#include "lipsyncd/core/number_format.hpp"

namespace lipsyncd::observe {
namespace {

spdlog::level::level_enum to_spdlog(Severity severity) noexcept {
  switch (severity) {
    case Severity::trace:
      return spdlog::level::trace;
    case Severity::debug:
      return spdlog::level::debug;
    case Severity::info:
      return spdlog::level::info;
    case Severity::warn:
      return spdlog::level::warn;
    case Severity::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

void add_text(LogFields& fields, const char* key, const std::string& value) {
  if (!value.empty()) fields.push_back({key, value, false});
}

// Plain decimal with a fixed precision (cost_usd=0.079, seconds=1.367), never 7.9e-02.
void add_number(LogFields& fields, const char* key, double value, int decimals) {
  // JSON has no NaN or infinity: such a value is logged as text rather than break the line.
  if (!std::isfinite(value)) {
    fields.push_back({key, fmt::format("{}", value), false});
    return;
  }
  fields.push_back({key, plain_decimal(value, decimals), true});
}

void write(spdlog::logger& logger, spdlog::level::level_enum level, const std::string& message,
           const LogFields& fields) {
  if (!logger.should_log(level)) return;
  const ScopedLogFields scope(fields);
  logger.log(level, spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace

LogFields fields_of(const JobEvent& event) {
  LogFields fields;
  fields.push_back({"event", std::string(to_string(event.event)), false});
  add_text(fields, "job_id", event.job_id);
  add_text(fields, "stage", event.stage);
  add_text(fields, "request_id", event.request_id);
  add_text(fields, "reason_code", event.reason_code);
  if (event.bytes) fields.push_back({"bytes", std::to_string(*event.bytes), true});
  if (event.seconds) add_number(fields, "seconds", *event.seconds, kSecondsDecimals);
  if (event.cost_usd) add_number(fields, "cost_usd", *event.cost_usd, kUsdDecimals);
  if (event.queue_position) {
    fields.push_back({"queue_position", std::to_string(*event.queue_position), true});
  }
  add_text(fields, "retry_at", event.retry_at);
  return fields;
}

void log_event(spdlog::logger& logger, const JobEvent& event) {
  const auto level = to_spdlog(event.severity.value_or(default_severity(event.event)));
  const std::string message = event.message.empty()
                                  ? fmt::format("job {} {}", event.job_id, to_string(event.event))
                                  : event.message;
  write(logger, level, message, fields_of(event));
}

void log_event(const JobEvent& event) {
  log_event(*spdlog::default_logger_raw(), event);
}

void log_heartbeat(spdlog::logger& logger, const Heartbeat& heartbeat) {
  LogFields fields;
  fields.push_back({"event", "heartbeat", false});
  fields.push_back({"queued", std::to_string(heartbeat.queued), true});
  fields.push_back({"preparing", std::to_string(heartbeat.preparing), true});
  fields.push_back({"at_fal", std::to_string(heartbeat.at_fal), true});
  fields.push_back({"deferred", std::to_string(heartbeat.deferred), true});
  fields.push_back({"held", std::to_string(heartbeat.held), true});
  for (const auto& [reason, count] : heartbeat.held_by_reason) {
    fields.push_back({"held_" + reason, std::to_string(count), true});
  }
  fields.push_back({"delivered_today", std::to_string(heartbeat.delivered_today), true});
  fields.push_back({"failed_today", std::to_string(heartbeat.failed_today), true});
  add_number(fields, "spend_today_usd", heartbeat.spend_today_usd, kUsdDecimals);
  add_number(fields, "spend_month_usd", heartbeat.spend_month_usd, kUsdDecimals);
  add_number(fields, "oldest_job_age_seconds", heartbeat.oldest_job_age_s, kSecondsDecimals);
  write(logger, spdlog::level::info, status_line(heartbeat), fields);
}

void log_heartbeat(const Heartbeat& heartbeat) {
  log_heartbeat(*spdlog::default_logger_raw(), heartbeat);
}

}  // namespace lipsyncd::observe
