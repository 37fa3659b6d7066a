#pragma once
// Private to the fal module. Following a request until it is COMPLETED: polling its status
// (backing off while it is queued), or with [fal] stream_status its server-sent event stream
// first, reporting each change of state, queue position and logs once, within the total
// timeout. Time comes from the client's Clock.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "api_caller.hpp"
#include "queue_calls.hpp"

namespace lipsyncd::fal::detail {

// Turns statuses into Progress reports, each change once and each log line once.
class ProgressTracker {
 public:
  explicit ProgressTracker(Client::ProgressCallback callback) : callback_(std::move(callback)) {}
  void report(const QueueStatus& status);
  // Streamed statuses carry only the new log lines.
  void report_stream(QueueStatus status);

 private:
  Client::ProgressCallback callback_;
  std::optional<QueueState> last_state_;
  std::optional<int> last_position_;
  std::size_t logs_seen_ = 0;
};

class CompletionWait {
 public:
  CompletionWait(ApiCaller& api, QueueCalls& queue, const FalConfig& config);

  boost::asio::awaitable<QueueStatus> wait(std::string request_id,
                                           Client::ProgressCallback on_progress);

 private:
  // The COMPLETED status from the event stream, or nothing when the stream broke off.
  boost::asio::awaitable<std::optional<QueueStatus>> follow_stream(const std::string& request_id,
                                                                   ProgressTracker& tracker,
                                                                   Clock::time_point deadline);
  FalError total_timeout(const std::string& request_id) const;

  ApiCaller& api_;
  QueueCalls& queue_;
  double total_timeout_s_;
  bool stream_status_;
  std::chrono::milliseconds poll_interval_;
  std::chrono::milliseconds max_poll_interval_;
};

}  // namespace lipsyncd::fal::detail
