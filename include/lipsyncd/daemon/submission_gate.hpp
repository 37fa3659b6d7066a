#pragma once
// Whether the daemon may still spend: fal refusing the API key (401) or its permission (403) is
// not one job's fault but the account's, and every further upload and submit would be refused
// the same way (fal-protocol.md §6.4: "stop all submissions"). The gate closes on the first
// such answer and stays closed until a person has fixed the key or the account and reloads or
// restarts lipsyncd. Polling and delivering requests fal already has go on meanwhile.

#include <optional>
#include <string>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::daemon {

// The reason code of a job that waits because the gate is closed.
inline constexpr const char* kSubmissionsPausedReason = "submissions_paused";

class SubmissionGate {
 public:
  struct Closure {
    std::string job_id;       // the job whose request fal refused
    std::string reason_code;  // fal_auth or fal_forbidden
    std::string message;      // fal's answer, as the job's error says it
  };

  // Closes the gate when the failure is fal refusing the key; true when this call closed it.
  bool close_if_key_refused(const std::string& job_id, const Failure& failure);
  // A person fixed the key or the account (reload, restart): try again.
  void open() { closure_.reset(); }
  const std::optional<Closure>& closure() const noexcept { return closure_; }

  // The error a job gets instead of an upload or submit while the gate is closed: transient,
  // so the job waits (without using up attempts) rather than failing.
  Error paused_error() const;

 private:
  std::optional<Closure> closure_;
};

}  // namespace lipsyncd::daemon
