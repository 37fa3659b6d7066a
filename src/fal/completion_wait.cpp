#include "completion_wait.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "wire_format.hpp"

namespace lipsyncd::fal::detail {

namespace asio = boost::asio;
using std::chrono::milliseconds;

void ProgressTracker::report(const QueueStatus& status) {
  Progress progress{status.state, status.queue_position, {}};
  if (status.logs.size() > logs_seen_) {
    progress.new_logs.assign(status.logs.begin() + static_cast<std::ptrdiff_t>(logs_seen_),
                             status.logs.end());
    logs_seen_ = status.logs.size();
  }
  const bool changed = status.state != last_state_ || status.queue_position != last_position_ ||
                       !progress.new_logs.empty();
  last_state_ = status.state;
  last_position_ = status.queue_position;
  if (changed && callback_) callback_(progress);
}

void ProgressTracker::report_stream(QueueStatus status) {
  std::vector<LogLine> all(logs_seen_);  // placeholders keep the count; only new ones matter
  all.insert(all.end(), status.logs.begin(), status.logs.end());
  status.logs = std::move(all);
  report(status);
}

CompletionWait::CompletionWait(ApiCaller& api, QueueCalls& queue, const FalConfig& config)
    : api_(api),
      queue_(queue),
      total_timeout_s_(config.total_timeout_s),
      stream_status_(config.stream_status),
      poll_interval_(config.poll_interval_ms),
      max_poll_interval_(std::max(config.max_poll_interval_ms, config.poll_interval_ms)) {}

asio::awaitable<QueueStatus> CompletionWait::wait(std::string request_id,
                                                  Client::ProgressCallback on_progress) {
  Clock& clock = api_.clock();
  const auto deadline = clock.now() + milliseconds(static_cast<long long>(total_timeout_s_ * 1000));
  ProgressTracker tracker(std::move(on_progress));
  if (stream_status_) {
    if (auto done = co_await follow_stream(request_id, tracker, deadline)) co_return *done;
    spdlog::debug("fal: status stream ended early; polling instead");
  }
  milliseconds interval = poll_interval_;
  for (;;) {
    QueueStatus current = co_await queue_.status(request_id, true);
    tracker.report(current);
    if (current.state == QueueState::completed) co_return current;
    // Back off while queued (positions change slowly); poll briskly once it runs.
    interval = current.state == QueueState::in_queue
                   ? std::min(max_poll_interval_, interval + interval / 2)
                   : poll_interval_;
    if (clock.now() + interval >= deadline) throw total_timeout(request_id);
    co_await clock.sleep(interval);
  }
}

// Server-sent events: each `data:` line is a status object.
asio::awaitable<std::optional<QueueStatus>> CompletionWait::follow_stream(
    const std::string& request_id, ProgressTracker& tracker, Clock::time_point deadline) {
  HttpRequest request = api_.api_request("GET", queue_.status_stream_url_for(request_id));
  request.headers.emplace_back("Accept", "text/event-stream");
  std::string pending;
  std::optional<QueueStatus> completed;
  SendOptions options;
  options.body_sink = [&](std::string_view chunk) {
    pending.append(chunk);
    for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("data:", 0) != 0) continue;
      std::optional<QueueStatus> status = parse_status_event(std::string_view(line).substr(5));
      if (!status) continue;
      tracker.report_stream(*status);
      if (status->state == QueueState::completed) completed = std::move(status);
    }
  };
  try {
    const HttpResponse response = co_await api_.send(Operation::status, request, options);
    if (response.status / 100 != 2) throw ApiCaller::refusal(Operation::status, response);
  } catch (const TransportError& error) {
    spdlog::debug("fal: status stream for {}: {}", request_id, error.what());
  }
  if (!completed && api_.clock().now() >= deadline) throw total_timeout(request_id);
  co_return completed;
}

FalError CompletionWait::total_timeout(const std::string& request_id) const {
  return FalError({FalErrorKind::timeout, 0, {}, {}},
                  "request " + request_id + " did not complete within " +
                      std::to_string(static_cast<long long>(total_timeout_s_)) + " s",
                  "fal is slow or its queue is long; the request is still at fal, poll it "
                  "later or raise [fal] total_timeout_s");
}

}  // namespace lipsyncd::fal::detail
