#include "lipsyncd/fal/operation.hpp"

#include <chrono>

#include "wire_format.hpp"

namespace lipsyncd::fal {

std::string_view to_string(Operation operation) noexcept {
  switch (operation) {
    case Operation::initiate_upload:
      return "initiate_upload";
    case Operation::upload:
      return "upload";
    case Operation::upload_part:
      return "upload_part";
    case Operation::complete_upload:
      return "complete_upload";
    case Operation::submit:
      return "submit";
    case Operation::status:
      return "status";
    case Operation::result:
      return "result";
    case Operation::cancel:
      return "cancel";
    case Operation::download:
      return "download";
  }
  return "unknown";
}

std::string_view describe(Operation operation) noexcept {
  switch (operation) {
    case Operation::initiate_upload:
      return "the upload request";
    case Operation::upload:
    case Operation::upload_part:
      return "the file upload";
    case Operation::complete_upload:
      return "completing the upload";
    case Operation::submit:
      return "the submission";
    case Operation::status:
      return "the status request";
    case Operation::result:
      return "the result request";
    case Operation::cancel:
      return "the cancellation";
    case Operation::download:
      return "the download";
  }
  return "the request";
}

RetryPolicy retry_policy(Operation operation) {
  switch (operation) {
    case Operation::submit:
    case Operation::result:
      return RetryPolicy::queue();
    case Operation::status:
      return RetryPolicy::status();
    case Operation::initiate_upload:
    case Operation::upload:
    case Operation::upload_part:
    case Operation::complete_upload:
    case Operation::cancel:
    case Operation::download:
      return RetryPolicy::standard();
  }
  return RetryPolicy::standard();
}

bool is_submit(Operation operation) noexcept {
  return operation == Operation::submit;
}

bool refusal_is_the_apps_failure(Operation operation) noexcept {
  return operation == Operation::result;
}

FalError http_failure(Operation operation, const HttpRefusal& refusal) {
  const int status = refusal.status;
  const std::string what = std::string(describe(operation));
  FalErrorDetails details{
      FalErrorKind::http_final, status, detail::detail_sentence(refusal.body), {}};
  if (!refusal.retry_after.empty()) {
    details.retry_after = parse_retry_after(refusal.retry_after, std::chrono::system_clock::now());
  }
  const std::string prefix = "fal refused " + what + " (HTTP " + std::to_string(status) + ")" +
                             (details.detail.empty() ? "" : ": " + details.detail);
  if (status == 401) {
    details.kind = FalErrorKind::auth;
    return FalError(std::move(details), prefix,
                    "check FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET, or [fal] key_file): fal "
                    "did not accept the key");
  }
  if (status == 403) {
    details.kind = FalErrorKind::forbidden;
    return FalError(std::move(details), prefix + " - the key has no permission for this",
                    "not retried: check the key's scope and the account's balance in fal's "
                    "dashboard");
  }
  // fal-protocol.md §6.1/§6.4: the request did not start within its x-fal-request-timeout;
  // fal already queued and retried it, so it is final, never retried.
  if (status == 504 && refusal.request_timeout_type == "user") {
    details.kind = FalErrorKind::http_final;
    return FalError(std::move(details),
                    "fal gave up on " + what +
                        ": the request did not start within its timeout (HTTP 504, timeout "
                        "type user)",
                    "not retried; send the job again when fal is less busy");
  }
  const bool apps_failure = refusal_is_the_apps_failure(operation);
  if (status == 408 || status == 429 || status >= 500) {
    details.kind = FalErrorKind::http_transient;
    // Except for the result, a 500 is fal's trouble, not the job's; the caller may try later.
    if (!(apps_failure && status == 500)) {
      return FalError(std::move(details), prefix, "fal is busy or unavailable; retried later");
    }
  }
  if (apps_failure && status != 404) {
    details.kind = FalErrorKind::app_failure;
    return FalError(std::move(details),
                    "the lipsync model failed at fal (HTTP " + std::to_string(status) + ")" +
                        (details.detail.empty() ? "" : ": " + details.detail),
                    "check the inputs (a visible face, real speech); fal's message says why");
  }
  details.kind = FalErrorKind::http_final;
  return FalError(std::move(details), prefix,
                  status == 422 ? "fix the field fal names; the input was not accepted"
                                : "this is not retried; see fal's message");
}

FalError transport_failure(Operation operation, BrokenAt stage, bool timed_out,
                           const std::string& what) {
  const bool reached_server = stage == BrokenAt::send || stage == BrokenAt::receive;
  if (is_submit(operation) && reached_server) {
    return FalError({FalErrorKind::ambiguous_submit, 0, what, {}},
                    "the submission may or may not have reached fal (" + what + ")",
                    "not resent automatically, to avoid paying twice: look the request up in "
                    "fal's dashboard, then retry or cancel the job");
  }
  if (timed_out) {
    return FalError({FalErrorKind::timeout, 0, what, {}},
                    std::string(describe(operation)) + " timed out (" + what + ")",
                    "the network or fal is slow; retried later ([fal] connect_timeout_s, "
                    "io_timeout_s)");
  }
  if (stage == BrokenAt::tls) {
    return FalError({FalErrorKind::tls, 0, what, {}},
                    "refused the server's TLS certificate (" + what + ")",
                    "check the host name, the system CA store and [fal] ca_file / --ca-file");
  }
  return FalError({FalErrorKind::network, 0, what, {}},
                  std::string(describe(operation)) + " failed: " + what,
                  "check the network connection; retried later");
}

}  // namespace lipsyncd::fal
