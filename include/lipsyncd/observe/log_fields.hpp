#pragma once
// Structured fields of the line being logged. spdlog messages carry only text, so
// log_event() publishes its fields for the duration of one (synchronous) logger call and our
// sinks and formatters read them here. Loggers built by configure_logging() are synchronous,
// so the sink runs on the thread that logged; an async logger would lose the fields.

#include <string>
#include <vector>

namespace lipsyncd::observe {

struct LogField {
  std::string key;       // lower snake_case, e.g. "job_id"; journald gets it upper-cased: JOB_ID=
  std::string value;     // already formatted
  bool numeric = false;  // a JSON number rather than a string
};

using LogFields = std::vector<LogField>;

// The fields of the line being logged on this thread, or nullptr for a plain message.
const LogFields* current_log_fields() noexcept;

// Publishes fields for the lifetime of the object (restores the previous ones after).
class ScopedLogFields {
 public:
  explicit ScopedLogFields(const LogFields& fields) noexcept;
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;
  ~ScopedLogFields();

 private:
  const LogFields* previous_;
};

// journald's form of a key: upper case, non-alphanumerics as '_' ("job_id" -> "JOB_ID").
std::string journal_field_name(const std::string& key);

}  // namespace lipsyncd::observe
