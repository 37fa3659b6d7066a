#pragma once
// Scripted faults, set through POST /_emulator/faults (schema in README.md). Each rule names a
// method and a path regex; a matching request consumes one of the rule's `times` and gets the
// rule's action. The first matching rule with uses left wins. Thread-safe.

#include <boost/json/value.hpp>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace lipsyncd::emulator {

enum class FaultAction {
  status,             // answer `status` (with `retry_after`, `body`) instead of handling it
  delay,              // only wait `delay_ms`, then handle normally
  reset,              // drop the connection (RST) after `after_bytes` body bytes
  slow_body,          // send the response body at `bytes_per_second`
  accept_then_reset,  // submit: create the request, then drop the connection unanswered
  app_failure,        // submit: the request runs and completes, its result is an error
  result_file_404,    // submit: the request completes, but its output file is never stored
};

struct FaultRule {
  std::string method = "*";  // "*" matches every method
  std::string path_pattern;  // ECMAScript regex over the whole path (no query)
  std::regex path;
  int times = 1;  // uses left; -1 forever
  FaultAction action = FaultAction::status;
  int status = 503;
  std::string retry_after;                 // Retry-After header value when set
  std::optional<boost::json::value> body;  // status / app_failure response body
  // status: sent as is instead of `body` (e.g. an nginx HTML error page), with content_type.
  std::optional<std::string> raw_body;
  std::string content_type = "application/json";
  // status: extra response headers, e.g. X-Fal-Needs-Retry or x-fal-request-timeout-type.
  std::vector<std::pair<std::string, std::string>> headers;
  bool request_id_header = true;  // status: false sends no x-fal-request-id (fal's ingress)
  int delay_ms = 0;                        // waited before any action
  long long after_bytes = 0;               // reset: request body bytes received (uploads)
                                           // or response body bytes sent (everything else)
  long long bytes_per_second = 65536;      // slow_body
};

std::string_view to_string(FaultAction action);

class FaultPlan {
 public:
  // Replaces every rule with those in `json_text` (an object with "faults": [...], one rule
  // object, or an array of rules). Throws lipsyncd::Error "emulator_bad_fault" on a bad rule.
  void replace(std::string_view json_text);
  void clear();
  // The rule that applies to this request, its use consumed; nothing when none applies.
  std::optional<FaultRule> take(std::string_view method, std::string_view path);
  boost::json::value describe() const;

 private:
  mutable std::mutex mutex_;
  std::vector<FaultRule> rules_;
};

}  // namespace lipsyncd::emulator
