#include "lipsyncd/fal/retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <string>

#include "lipsyncd/fal/error.hpp"

namespace lipsyncd::fal {

using std::chrono::milliseconds;

RetryPolicy RetryPolicy::standard() {
  return RetryPolicy{};
}

RetryPolicy RetryPolicy::queue() {
  RetryPolicy policy;
  policy.max_delay = milliseconds(60000);
  return policy;
}

RetryPolicy RetryPolicy::status() {
  RetryPolicy policy;
  policy.max_retries = 5;
  policy.retryable_statuses.push_back(500);
  return policy;
}

RetryPolicy RetryPolicy::scaled(double factor) const {
  RetryPolicy policy = *this;
  const auto scale = [factor](milliseconds d) {
    return milliseconds(
        static_cast<long long>(std::llround(static_cast<double>(d.count()) * factor)));
  };
  policy.base_delay = scale(base_delay);
  policy.max_delay = scale(max_delay);
  policy.max_retry_after = max_retry_after;  // compared before scaling (see delay())
  policy.scale_ = scale_ * factor;
  return policy;
}

bool RetryPolicy::is_retryable_status(int status) const {
  return std::find(retryable_statuses.begin(), retryable_statuses.end(), status) !=
         retryable_statuses.end();
}

bool RetryPolicy::should_retry(const FalError& error, int attempt) const {
  if (attempt >= max_retries) return false;
  switch (error.kind()) {
    case FalErrorKind::network:
    case FalErrorKind::timeout:
      return true;
    case FalErrorKind::http_transient:
      if (!is_retryable_status(error.http_status())) return false;
      return !error.retry_after() || *error.retry_after() <= max_retry_after;
    default:
      return false;
  }
}

milliseconds RetryPolicy::delay(int attempt, const FalError& error,
                                const std::function<double()>& unit_random) const {
  const double exponential =
      std::min(static_cast<double>(base_delay.count()) * std::pow(2.0, attempt),
               static_cast<double>(max_delay.count()));
  const double jitter = 0.25 * exponential * (unit_random() * 2 - 1);
  auto wait = milliseconds(static_cast<long long>(std::max(0.0, exponential + jitter)));
  if (const auto retry_after = error.retry_after()) {
    const auto scaled_after =
        milliseconds(static_cast<long long>(static_cast<double>(retry_after->count()) * scale_));
    wait = std::max(wait, scaled_after);
  }
  return wait;
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::nullopt;
    return milliseconds(std::stoll(std::string(value)) * 1000);
  }
  // HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const auto when = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (when <= now) return milliseconds(0);
  return std::chrono::duration_cast<milliseconds>(when - now);
}

}  // namespace lipsyncd::fal
