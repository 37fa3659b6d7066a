#pragma once
// One job event = one log line (stderr text, journald fields, JSON-lines keys). The daemon
// fills a JobEvent at each step of a job; log_event() writes it through every configured sink.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lipsyncd::observe {

// Stable names: scripts, journalctl EVENT= filters and jq queries depend on them.
enum class EventName {
  accepted,        // inputs claimed into the spool
  rejected,        // inputs refused before any work (reason_code says why)
  prepared,        // probed, checked, planned and normalized: ready to upload
  uploaded,        // inputs stored at fal (bytes, seconds)
  submitted,       // request queued at fal (request_id, cost_usd estimate); the paid step
  queue_position,  // position in fal's queue changed
  completed,       // fal finished the request
  delivered,       // result in the outbox (bytes, seconds for the whole job, cost_usd)
  deferred,        // transient failure; retried at retry_at
  failed,          // final failure; inputs moved to error/
  held,            // the budget cap stops the job until the period rolls over or the cap rises
  released,        // a held job resumes
  cancelled,       // cancelled by the user (`lipsyncd cancel`)
  duplicate,       // same inputs and options within the duplicate window: earlier result reused
  recovered,       // an unfinished job picked up again after a restart
};

std::string_view to_string(EventName name) noexcept;

// Severity of a line; maps to spdlog levels and journald PRIORITY=.
enum class Severity { trace, debug, info, warn, error };

// The default severity of an event: failures are errors, refusals and delays are warnings.
Severity default_severity(EventName name) noexcept;

// Every member has an initializer, so designated initializers may name only what they set.
struct JobEvent {
  EventName event = EventName::accepted;
  std::string job_id{};
  std::string stage{};        // the job's stage when the event happened, e.g. "upload"
  std::string request_id{};   // fal's request id once submitted
  std::string reason_code{};  // for rejected, deferred, failed, held
  std::optional<std::uint64_t> bytes{};
  std::optional<double> seconds{};
  std::optional<double> cost_usd{};
  std::optional<int> queue_position{};
  std::string retry_at{};              // ISO 8601 UTC, for deferred
  std::string message{};               // one sentence for people; the event name when empty
  std::optional<Severity> severity{};  // default_severity(event) when unset
};

}  // namespace lipsyncd::observe
