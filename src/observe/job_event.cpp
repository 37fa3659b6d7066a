#include "lipsyncd/observe/job_event.hpp"

namespace lipsyncd::observe {

std::string_view to_string(EventName name) noexcept {
  switch (name) {
    case EventName::accepted:
      return "accepted";
    case EventName::rejected:
      return "rejected";
    case EventName::prepared:
      return "prepared";
    case EventName::uploaded:
      return "uploaded";
    case EventName::submitted:
      return "submitted";
    case EventName::queue_position:
      return "queue_position";
    case EventName::completed:
      return "completed";
    case EventName::delivered:
      return "delivered";
    case EventName::deferred:
      return "deferred";
    case EventName::failed:
      return "failed";
    case EventName::held:
      return "held";
    case EventName::released:
      return "released";
    case EventName::cancelled:
      return "cancelled";
    case EventName::duplicate:
      return "duplicate";
    case EventName::recovered:
      return "recovered";
  }
  return "unknown";
}

Severity default_severity(EventName name) noexcept {
  switch (name) {
    case EventName::failed:
      return Severity::error;
    case EventName::rejected:
    case EventName::deferred:
    case EventName::held:
      return Severity::warn;
    case EventName::queue_position:
      return Severity::debug;
    default:
      return Severity::info;
  }
}

}  // namespace lipsyncd::observe
