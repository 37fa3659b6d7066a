#pragma once
// Postfix-style deferral: a job that failed transiently waits retry_base_s, then twice that,
// and so on up to retry_max_s; after max_attempts it fails for good.

#include <chrono>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd::daemon {

// The wait before attempt number `attempts + 1` (attempts = transient failures so far, >= 1).
std::chrono::milliseconds retry_delay(int attempts, const DaemonConfig& config);

// Whether a job that has failed transiently `attempts` times may still be retried.
bool may_retry(int attempts, const DaemonConfig& config);

}  // namespace lipsyncd::daemon
