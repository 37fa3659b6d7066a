#pragma once
// The calls the fal client makes, each with what it owns: its retry policy, whether it is the
// submit (the one call that costs money and is never resent once it may have reached fal), its
// name for metrics and logs, and the words its errors use. Every failure is classified here
// from the Operation, never from a string, so renaming a label cannot change a classification.

#include <array>
#include <string>
#include <string_view>

#include "lipsyncd/fal/error.hpp"
#include "lipsyncd/fal/retry_policy.hpp"

namespace lipsyncd::fal {

enum class Operation {
  initiate_upload,  // ask fal's storage for a signed upload URL
  upload,           // PUT a whole file to the signed URL
  upload_part,      // PUT one part of a multipart upload
  complete_upload,  // finish a multipart upload
  submit,           // POST the input to the endpoint's queue: creates a (paid) request
  status,           // read the request's queue status (also the status event stream)
  result,           // read the model's output
  cancel,           // ask fal to cancel the request
  download,         // GET the output file from fal's CDN
};

inline constexpr std::array kAllOperations = {
    Operation::initiate_upload, Operation::upload, Operation::upload_part,
    Operation::complete_upload, Operation::submit, Operation::status,
    Operation::result,          Operation::cancel, Operation::download};

// The label the observer (metrics) and debug logs use: "initiate_upload", "upload", ...
std::string_view to_string(Operation operation) noexcept;
// How error messages name it: "the upload request", "the submission", ...
std::string_view describe(Operation operation) noexcept;
// Storage calls, cancel and downloads: standard; submit and result: queue; status: status.
RetryPolicy retry_policy(Operation operation);
// Only the submit: it gets a fresh connection, and a failure after its bytes may have reached
// fal is ambiguous_submit (never retried) instead of a transient network error.
bool is_submit(Operation operation) noexcept;
// Only the result: an HTTP error other than 404 or a transient status is the model failing
// inside fal (app_failure), and a 500 is the model's failure rather than fal's trouble.
bool refusal_is_the_apps_failure(Operation operation) noexcept;

// A non-2xx answer from fal, as much of it as the classification needs.
struct HttpRefusal {
  int status = 0;
  std::string body;                  // fal's error body (JSON or text)
  std::string retry_after;           // the Retry-After header; "" when absent
  std::string request_timeout_type;  // x-fal-request-timeout-type; "" when absent
};
// What fal's HTTP status means for the caller of `operation` (the taxonomy in
// fal-protocol.md §6): auth, forbidden, http_transient, http_final or app_failure.
FalError http_failure(Operation operation, const HttpRefusal& refusal);

// Where an exchange broke off when no complete HTTP response arrived.
enum class BrokenAt {
  connect,  // resolving, connecting, or the proxy's CONNECT: nothing reached fal
  tls,      // the TLS handshake was refused
  send,     // while the request was being sent: fal may have received it
  receive,  // while the response was being read: fal received the request
};
// network, timeout or tls; for the submit, ambiguous_submit once the request may have been
// received (send or receive).
FalError transport_failure(Operation operation, BrokenAt stage, bool timed_out,
                           const std::string& what);

}  // namespace lipsyncd::fal
