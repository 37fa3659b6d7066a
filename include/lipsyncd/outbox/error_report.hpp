#pragma once
// The `<stem>.error.json` written to error/ beside rejected inputs: the stage that failed, a
// stable reason code for scripts, a sentence and a hint for people.

#include <optional>
#include <string>
#include <vector>

namespace lipsyncd::outbox {

// Every member has an initializer, so designated initializers may name only what they set.
struct ErrorReport {
  std::string job_id{};  // empty for inputs rejected before they became a job
  std::string stage{};   // "intake", "prepare", "upload", "submit", "fal", "download", "deliver"
  std::string reason_code{};
  std::string message{};
  std::string hint{};
  std::optional<std::string> request_id{};
  std::vector<std::string> files{};  // names of the inputs as moved into error/
  std::string failed_at{};           // ISO-8601 UTC
};

std::string to_json(const ErrorReport& report);

}  // namespace lipsyncd::outbox
