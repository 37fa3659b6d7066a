#pragma once
// When the fal client tries again and how long it waits: the official client's policies
// (exponential backoff, ±25 % jitter), plus Retry-After, which it ignores and we honour.

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace lipsyncd::fal {

class FalError;

struct RetryPolicy {
  int max_retries = 3;
  std::chrono::milliseconds base_delay{1000};
  std::chrono::milliseconds max_delay{30000};
  std::vector<int> retryable_statuses{408, 429, 502, 503, 504};
  // Retry-After larger than this is not waited for: the error surfaces to the caller instead
  // (the daemon defers the job), so one request never sleeps for hours.
  std::chrono::milliseconds max_retry_after{std::chrono::minutes(5)};

  // Storage calls, cancel and downloads.
  static RetryPolicy standard();
  // Queue submit and result: the official client's queue policy (max delay 60 s).
  static RetryPolicy queue();
  // Status polls are read-only, so more retries and 500 included.
  static RetryPolicy status();

  // Scales every delay (tests use e.g. 0.01 to run fast); Retry-After is scaled too.
  RetryPolicy scaled(double factor) const;

  bool is_retryable_status(int status) const;
  // Whether `error` may be retried after `attempt` failed attempts (0-based) so far.
  bool should_retry(const FalError& error, int attempt) const;
  // min(base * 2^attempt, max) ± 25 %, and never less than Retry-After. `unit_random`
  // returns a number in [0, 1).
  std::chrono::milliseconds delay(int attempt, const FalError& error,
                                  const std::function<double()>& unit_random) const;

 private:
  double scale_ = 1.0;  // applied to Retry-After (backoff delays are scaled when set)
};

// Retry-After as seconds ("120") or an HTTP date, relative to `now`; nothing when unparsable.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace lipsyncd::fal
