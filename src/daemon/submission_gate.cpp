#include "lipsyncd/daemon/submission_gate.hpp"

namespace lipsyncd::daemon {

bool SubmissionGate::close_if_key_refused(const std::string& job_id, const Failure& failure) {
  // The reason codes fal::FalError gives a 401 and a 403 (FalErrorKind auth, forbidden).
  const bool key_refused =
      failure.reason_code == "fal_auth" || failure.reason_code == "fal_forbidden";
  if (!key_refused || closure_) return false;
  closure_ = Closure{job_id, failure.reason_code, failure.message};
  return true;
}

Error SubmissionGate::paused_error() const {
  const std::string why = closure_ ? closure_->message + " (job " + closure_->job_id + ")"
                                   : std::string("fal refused the API key");
  return Error(kSubmissionsPausedReason,
               "not sent to fal: uploads and submits are paused because fal refused the API key "
               "or its permission: " +
                   why,
               "fix FAL_KEY or the fal account (key scope, balance), then `systemctl reload "
               "lipsyncd` or restart it; the job goes on by itself",
               Permanence::transient);
}

}  // namespace lipsyncd::daemon
