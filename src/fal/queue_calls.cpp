#include "queue_calls.hpp"

#include <spdlog/spdlog.h>

#include <optional>

#include "wire_format.hpp"

namespace lipsyncd::fal::detail {

namespace asio = boost::asio;

QueueCalls::QueueCalls(ApiCaller& api, std::string queue_base, EndpointId endpoint)
    : api_(api),
      queue_base_(std::move(queue_base)),
      queue_origin_(parse_url(queue_base_).origin()),
      endpoint_(std::move(endpoint)) {}

asio::awaitable<Submission> QueueCalls::submit(LipsyncInput input) {
  HttpRequest request =
      api_.api_request("POST", submit_url(queue_base_, endpoint_), submit_body(input));
  request.headers.emplace_back("x-fal-queue-priority", "normal");
  const HttpResponse answer = co_await api_.call(Operation::submit, request);
  Submission submission = parse_submission(answer.body, answer.status);
  remember_urls(submission);
  spdlog::debug("fal: submitted to {} as request {}", endpoint_.full(), submission.request_id);
  co_return submission;
}

// fal's own URLs for a request, kept only when they point at the configured queue host: the
// key is sent along, and must never go anywhere else.
void QueueCalls::remember_urls(const Submission& submission) {
  const auto keep = [this](const std::string& text) -> std::string {
    if (text.empty()) return {};
    try {
      const Url url = parse_url(text);
      if (url.origin() == queue_origin_ && url.query().empty()) return text;
    } catch (const FalError&) {
      // Not a URL: fall back to the built one, as for a foreign host.
    }
    spdlog::debug("fal: ignoring returned URL {} (not on {})", text, queue_origin_);
    return {};
  };
  RequestUrls urls{keep(submission.status_url), keep(submission.response_url),
                   keep(submission.cancel_url)};
  if (!urls.status.empty() || !urls.response.empty() || !urls.cancel.empty()) {
    request_urls_[submission.request_id] = std::move(urls);
  }
}

const QueueCalls::RequestUrls* QueueCalls::known(const std::string& request_id) const {
  const auto found = request_urls_.find(request_id);
  return found == request_urls_.end() ? nullptr : &found->second;
}

std::string QueueCalls::status_url_for(const std::string& request_id, bool with_logs) const {
  const RequestUrls* urls = known(request_id);
  if (urls == nullptr || urls->status.empty()) {
    return status_url(queue_base_, endpoint_, request_id, with_logs);
  }
  return urls->status + (with_logs ? "?logs=1" : "?logs=0");
}

std::string QueueCalls::status_stream_url_for(const std::string& request_id) const {
  const RequestUrls* urls = known(request_id);
  if (urls == nullptr || urls->status.empty()) {
    return status_stream_url(queue_base_, endpoint_, request_id, true);
  }
  return urls->status + "/stream?logs=1";
}

std::string QueueCalls::result_url_for(const std::string& request_id) const {
  const RequestUrls* urls = known(request_id);
  if (urls == nullptr || urls->response.empty()) {
    return result_url(queue_base_, endpoint_, request_id);
  }
  return urls->response;
}

std::string QueueCalls::cancel_url_for(const std::string& request_id) const {
  const RequestUrls* urls = known(request_id);
  if (urls == nullptr || urls->cancel.empty()) {
    return cancel_url(queue_base_, endpoint_, request_id);
  }
  return urls->cancel;
}

asio::awaitable<QueueStatus> QueueCalls::status(std::string request_id, bool with_logs) {
  const HttpResponse answer = co_await api_.call(
      Operation::status, api_.api_request("GET", status_url_for(request_id, with_logs)));
  co_return parse_status(answer.body, answer.status);
}

asio::awaitable<LipsyncOutput> QueueCalls::result(std::string request_id) {
  const HttpResponse answer =
      co_await api_.call(Operation::result, api_.api_request("GET", result_url_for(request_id)));
  co_return parse_output(answer.body, answer.status);
}

asio::awaitable<CancelOutcome> QueueCalls::cancel(std::string request_id) {
  std::optional<CancelOutcome> refused;
  try {
    co_await api_.call(Operation::cancel, api_.api_request("PUT", cancel_url_for(request_id)));
  } catch (const FalError& error) {
    // fal-protocol.md §4.5: 400 {"status":"ALREADY_COMPLETED"}, 404 {"status":"NOT_FOUND"}.
    if (error.http_status() == 400 && error.detail() == "ALREADY_COMPLETED") {
      refused = CancelOutcome::already_completed;
    } else if (error.http_status() == 404) {
      refused = CancelOutcome::not_found;
    } else {
      throw;
    }
  }
  if (refused) co_return *refused;
  // 202 CANCELLATION_REQUESTED means either case; the status right after tells which.
  const QueueStatus after = co_await status(request_id, false);
  if (after.state == QueueState::in_progress ||
      (after.state == QueueState::completed && after.error_type != "client_cancelled")) {
    co_return CancelOutcome::requested_while_running;
  }
  co_return CancelOutcome::cancelled_before_run;
}

}  // namespace lipsyncd::fal::detail
