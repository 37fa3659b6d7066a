#pragma once
// FalError: every failure of the fal client, typed so callers can decide what to do next
// (retry later, park the job for a person, or give up) without parsing messages.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::fal {

enum class FalErrorKind {
  network,           // connection refused/reset, DNS, proxy: transient
  timeout,           // connect, no-progress or total timeout: transient
  tls,               // certificate or handshake refused: permanent until configuration changes
  http_transient,    // 408/429/500/502/503/504 from fal: transient
  http_final,        // 400/403/404/... from fal: permanent
  ambiguous_submit,  // the submit may or may not have created a (paid) request: never resend
  app_failure,       // the request ran at fal and the model failed: permanent
  auth,              // 401: the key is wrong
  forbidden,         // 403: the key lacks permission for the operation (or the account is locked)
  config,            // a URL or option lipsyncd refuses to use (e.g. plain HTTP to a remote host)
};

std::string_view to_string(FalErrorKind kind) noexcept;

struct FalErrorDetails {
  FalErrorKind kind = FalErrorKind::network;
  int http_status = 0;                                   // 0 when no HTTP response arrived
  std::string detail;                                    // fal's own words, one sentence
  std::optional<std::chrono::milliseconds> retry_after;  // from the Retry-After header
};

class FalError : public Error {
 public:
  // reason_code is "fal_<kind>"; permanence follows from the kind.
  FalError(FalErrorDetails details, std::string message, std::string hint = {});

  FalErrorKind kind() const noexcept { return details_.kind; }
  int http_status() const noexcept { return details_.http_status; }
  const std::string& detail() const noexcept { return details_.detail; }
  std::optional<std::chrono::milliseconds> retry_after() const noexcept {
    return details_.retry_after;
  }
  const FalErrorDetails& details() const noexcept { return details_; }

 private:
  FalErrorDetails details_;
};

}  // namespace lipsyncd::fal
