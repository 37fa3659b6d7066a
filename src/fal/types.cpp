#include "lipsyncd/fal/types.hpp"

namespace lipsyncd::fal {

std::string_view to_string(CancelOutcome outcome) noexcept {
  switch (outcome) {
    case CancelOutcome::cancelled_before_run:
      return "cancelled_before_run";
    case CancelOutcome::requested_while_running:
      return "requested_while_running";
    case CancelOutcome::already_completed:
      return "already_completed";
    case CancelOutcome::not_found:
      return "not_found";
  }
  return "unknown";
}

std::string_view describe(CancelOutcome outcome) noexcept {
  switch (outcome) {
    case CancelOutcome::cancelled_before_run:
      return "cancelled before it ran (nothing billed)";
    case CancelOutcome::requested_while_running:
      return "cancellation requested while running (it may still complete and be billed)";
    case CancelOutcome::already_completed:
      return "already completed (it ran and is billed; nothing to cancel)";
    case CancelOutcome::not_found:
      return "not known to fal (expired or never created; nothing to cancel)";
  }
  return "unknown";
}

}  // namespace lipsyncd::fal
