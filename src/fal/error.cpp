#include "lipsyncd/fal/error.hpp"

namespace lipsyncd::fal {
namespace {

Permanence permanence_of(FalErrorKind kind) {
  switch (kind) {
    case FalErrorKind::network:
    case FalErrorKind::timeout:
    case FalErrorKind::http_transient:
      return Permanence::transient;
    case FalErrorKind::tls:
    case FalErrorKind::http_final:
    case FalErrorKind::ambiguous_submit:  // a person must decide, never an automatic retry
    case FalErrorKind::app_failure:
    case FalErrorKind::auth:
    case FalErrorKind::forbidden:
    case FalErrorKind::config:
      return Permanence::permanent;
  }
  return Permanence::permanent;
}

}  // namespace

std::string_view to_string(FalErrorKind kind) noexcept {
  switch (kind) {
    case FalErrorKind::network:
      return "network";
    case FalErrorKind::timeout:
      return "timeout";
    case FalErrorKind::tls:
      return "tls";
    case FalErrorKind::http_transient:
      return "http_transient";
    case FalErrorKind::http_final:
      return "http_final";
    case FalErrorKind::ambiguous_submit:
      return "ambiguous_submit";
    case FalErrorKind::app_failure:
      return "app_failure";
    case FalErrorKind::auth:
      return "auth";
    case FalErrorKind::forbidden:
      return "forbidden";
    case FalErrorKind::config:
      return "config";
  }
  return "unknown";
}

FalError::FalError(FalErrorDetails details, std::string message, std::string hint)
    : Error("fal_" + std::string(to_string(details.kind)), std::move(message), std::move(hint),
            permanence_of(details.kind)),
      details_(std::move(details)) {}

}  // namespace lipsyncd::fal
