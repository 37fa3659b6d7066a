#include "lipsyncd/daemon/retry_backoff.hpp"

#include <algorithm>
#include <cmath>

namespace lipsyncd::daemon {

std::chrono::milliseconds retry_delay(int attempts, const DaemonConfig& config) {
  const int doublings = std::clamp(attempts - 1, 0, 30);
  const double seconds =
      std::min(config.retry_base_s * std::pow(2.0, doublings), config.retry_max_s);
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

bool may_retry(int attempts, const DaemonConfig& config) {
  return attempts < config.max_attempts;
}

}  // namespace lipsyncd::daemon
