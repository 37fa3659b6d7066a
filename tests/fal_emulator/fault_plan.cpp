#include "fault_plan.hpp"

#include <boost/json.hpp>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::emulator {
namespace {

namespace json = boost::json;

constexpr std::pair<FaultAction, std::string_view> kActionNames[] = {
    {FaultAction::status, "status"},
    {FaultAction::delay, "delay"},
    {FaultAction::reset, "reset"},
    {FaultAction::slow_body, "slow_body"},
    {FaultAction::accept_then_reset, "accept_then_reset"},
    {FaultAction::app_failure, "app_failure"},
    {FaultAction::result_file_404, "result_file_404"},
};

[[noreturn]] void bad_fault(const std::string& why) {
  throw Error("emulator_bad_fault", "bad fault rule: " + why,
              "see tests/fal_emulator/README.md for the fault schema");
}

long long integer(const json::object& rule, std::string_view key, long long fallback) {
  const auto* value = rule.if_contains(key);
  if (value == nullptr) return fallback;
  if (!value->is_int64() && !value->is_uint64())
    bad_fault(std::string(key) + " must be an integer");
  return value->to_number<long long>();
}

FaultRule parse_rule(const json::value& value) {
  if (!value.is_object()) bad_fault("each rule must be a JSON object");
  const auto& object = value.as_object();
  FaultRule rule;
  if (const auto* method = object.if_contains("method")) {
    if (!method->is_string()) bad_fault("method must be a string");
    rule.method = std::string(method->as_string());
  }
  const auto* path = object.if_contains("path");
  if (path == nullptr || !path->is_string()) bad_fault("path (a regex string) is required");
  rule.path_pattern = std::string(path->as_string());
  try {
    rule.path = std::regex(rule.path_pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    bad_fault("path is not a valid regex: " + std::string(e.what()));
  }
  const auto* action = object.if_contains("action");
  if (action == nullptr || !action->is_string()) bad_fault("action is required");
  bool known = false;
  for (const auto& [kind, name] : kActionNames) {
    if (action->as_string() == name) {
      rule.action = kind;
      known = true;
    }
  }
  if (!known) bad_fault("unknown action " + std::string(action->as_string()));
  rule.times = static_cast<int>(integer(object, "times", 1));
  rule.status = static_cast<int>(
      integer(object, "status", rule.action == FaultAction::app_failure ? 500 : 503));
  if (const auto* retry_after = object.if_contains("retry_after")) {
    rule.retry_after = retry_after->is_string() ? std::string(retry_after->as_string())
                                                : json::serialize(*retry_after);
  }
  if (const auto* body = object.if_contains("body")) rule.body = *body;
  if (const auto* raw = object.if_contains("raw_body")) {
    if (!raw->is_string()) bad_fault("raw_body must be a string");
    rule.raw_body = std::string(raw->as_string());
    rule.content_type = "text/html";
  }
  if (const auto* type = object.if_contains("content_type")) {
    if (!type->is_string()) bad_fault("content_type must be a string");
    rule.content_type = std::string(type->as_string());
  }
  if (const auto* headers = object.if_contains("headers")) {
    if (!headers->is_object()) bad_fault("headers must be an object of name: value strings");
    for (const auto& [name, header_value] : headers->as_object()) {
      if (!header_value.is_string()) bad_fault("header " + std::string(name) + " must be a string");
      const std::string text(header_value.as_string());
      if (name.empty() || text.find_first_of("\r\n") != std::string::npos) {
        bad_fault("header " + std::string(name) + " has an empty name or a line break");
      }
      rule.headers.emplace_back(std::string(name), text);
    }
  }
  if (const auto* id = object.if_contains("request_id_header")) {
    if (!id->is_bool()) bad_fault("request_id_header must be true or false");
    rule.request_id_header = id->as_bool();
  }
  rule.delay_ms = static_cast<int>(integer(object, "delay_ms", 0));
  rule.after_bytes = integer(object, "after_bytes", 0);
  rule.bytes_per_second = integer(object, "bytes_per_second", 65536);
  if (rule.bytes_per_second <= 0) bad_fault("bytes_per_second must be positive");
  if (rule.status < 100 || rule.status > 599) bad_fault("status must be an HTTP status code");
  return rule;
}

}  // namespace

std::string_view to_string(FaultAction action) {
  for (const auto& [kind, name] : kActionNames) {
    if (kind == action) return name;
  }
  return "unknown";
}

void FaultPlan::replace(std::string_view json_text) {
  json::error_code ec;
  const auto parsed = json::parse(json_text, ec);
  if (ec) bad_fault("the body is not JSON");
  std::vector<FaultRule> rules;
  const json::value* list = &parsed;
  if (parsed.is_object() && parsed.as_object().contains("faults")) {
    list = &parsed.as_object().at("faults");
  }
  if (list->is_array()) {
    for (const auto& rule : list->as_array()) rules.push_back(parse_rule(rule));
  } else {
    rules.push_back(parse_rule(*list));
  }
  std::lock_guard lock(mutex_);
  rules_ = std::move(rules);
}

void FaultPlan::clear() {
  std::lock_guard lock(mutex_);
  rules_.clear();
}

std::optional<FaultRule> FaultPlan::take(std::string_view method, std::string_view path) {
  std::lock_guard lock(mutex_);
  for (auto& rule : rules_) {
    if (rule.times == 0) continue;
    if (rule.method != "*" && rule.method != method) continue;
    if (!std::regex_match(path.begin(), path.end(), rule.path)) continue;
    if (rule.times > 0) --rule.times;
    return rule;
  }
  return std::nullopt;
}

json::value FaultPlan::describe() const {
  std::lock_guard lock(mutex_);
  json::array list;
  for (const auto& rule : rules_) {
    list.push_back(json::object{{"method", rule.method},
                                {"path", rule.path_pattern},
                                {"action", to_string(rule.action)},
                                {"times_left", rule.times}});
  }
  return json::object{{"faults", list}};
}

}  // namespace lipsyncd::emulator
