#include "lipsyncd/fal/client.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>

#include "http_transport.hpp"
#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/unique_fd.hpp"
#include "lipsyncd/core/version.hpp"
#include "lipsyncd/fal/content_type.hpp"

namespace lipsyncd::fal {

namespace asio = boost::asio;
namespace json = boost::json;
using detail::FileBody;
using detail::HttpRequest;
using detail::HttpResponse;
using detail::SendOptions;
using detail::TransportError;
using std::chrono::milliseconds;

namespace {

constexpr int kMaxRedirects = 5;

milliseconds to_ms(double seconds) {
  return milliseconds(static_cast<long long>(seconds * 1000));
}

// One readable sentence from fal's error body: FastAPI's `detail` (a string or a list of
// {loc, msg}), else `message`, else `error`, else the raw text.
std::string detail_sentence(const std::string& body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    const auto& object = parsed.as_object();
    if (const auto* detail = object.if_contains("detail")) {
      if (detail->is_string()) return std::string(detail->as_string());
      if (detail->is_array()) {
        std::string sentence;
        for (const auto& item : detail->as_array()) {
          if (!item.is_object()) continue;
          std::string where;
          if (const auto* loc = item.as_object().if_contains("loc"); loc && loc->is_array()) {
            for (const auto& part : loc->as_array()) {
              const std::string text =
                  part.is_string() ? std::string(part.as_string()) : json::serialize(part);
              if (text == "body" && where.empty()) continue;  // FastAPI's location prefix
              where += where.empty() ? text : "." + text;
            }
          }
          std::string message;
          if (const auto* msg = item.as_object().if_contains("msg"); msg && msg->is_string()) {
            message = std::string(msg->as_string());
          }
          if (!sentence.empty()) sentence += "; ";
          sentence += where.empty() ? message : where + ": " + message;
        }
        if (!sentence.empty()) return sentence;
      }
    }
    for (const char* key : {"message", "error", "status"}) {
      if (const auto* value = object.if_contains(key); value && value->is_string()) {
        return std::string(value->as_string());
      }
    }
  }
  std::string text = body.substr(0, 300);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

json::object parse_object(const HttpResponse& response, std::string_view operation) {
  boost::system::error_code ec;
  json::value value = json::parse(response.body, ec);
  if (ec || !value.is_object()) {
    throw FalError({FalErrorKind::http_transient, response.status, {}, {}},
                   "fal answered " + std::string(operation) +
                       " with something that is not a "
                       "JSON object (HTTP " +
                       std::to_string(response.status) + ")",
                   "a proxy or load balancer may be in the way; try again later");
  }
  return std::move(value.as_object());
}

std::string string_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::optional<std::int64_t> integer_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
  if (value->is_double()) return static_cast<std::int64_t>(value->as_double());
  return std::nullopt;
}

std::string required_string(const json::object& object, std::string_view key,
                            std::string_view operation, int status) {
  std::string value = string_field(object, key);
  if (value.empty()) {
    throw FalError(
        {FalErrorKind::http_transient, status, {}, {}},
        "fal's answer to " + std::string(operation) + " lacks \"" + std::string(key) + "\"",
        "the API may have changed; check fal's status page and lipsyncd's version");
  }
  return value;
}

QueueStatus parse_status(const json::object& object, int http_status) {
  QueueStatus status;
  const std::string state = required_string(object, "status", "status", http_status);
  if (state == "IN_QUEUE") {
    status.state = QueueState::in_queue;
  } else if (state == "IN_PROGRESS") {
    status.state = QueueState::in_progress;
  } else if (state == "COMPLETED") {
    status.state = QueueState::completed;
  } else {
    throw FalError({FalErrorKind::http_transient, http_status, state, {}},
                   "fal reported an unknown queue status \"" + state + "\"",
                   "the API may have changed; check lipsyncd's version");
  }
  if (const auto position = integer_field(object, "queue_position")) {
    status.queue_position = static_cast<int>(*position);
  }
  if (const auto* logs = object.if_contains("logs"); logs && logs->is_array()) {
    for (const auto& entry : logs->as_array()) {
      if (!entry.is_object()) continue;
      const auto& line = entry.as_object();
      status.logs.push_back({string_field(line, "timestamp"), string_field(line, "level"),
                             string_field(line, "message")});
    }
  }
  if (const auto* error = object.if_contains("error"); error && !error->is_null()) {
    status.error = error->is_string() ? std::string(error->as_string()) : json::serialize(*error);
  }
  status.error_type = string_field(object, "error_type");
  if (const auto* metrics = object.if_contains("metrics"); metrics && metrics->is_object()) {
    if (const auto* inference = metrics->as_object().if_contains("inference_time");
        inference && inference->is_number()) {
      status.inference_time_s = inference->to_number<double>();
    }
  }
  return status;
}

std::string describe(std::string_view operation) {
  if (operation == "initiate_upload") return "the upload request";
  if (operation == "upload" || operation == "upload_part") return "the file upload";
  if (operation == "complete_upload") return "completing the upload";
  if (operation == "submit") return "the submission";
  if (operation == "status") return "the status request";
  if (operation == "result") return "the result request";
  if (operation == "cancel") return "the cancellation";
  if (operation == "download") return "the download";
  return std::string(operation);
}

// What fal's HTTP status means for the caller (see the retry taxonomy in retry_policy.hpp).
FalError http_error(std::string_view operation, const HttpResponse& response) {
  const int status = response.status;
  FalErrorDetails details{FalErrorKind::http_final, status, detail_sentence(response.body), {}};
  if (const auto retry_after = response.header("retry-after"); !retry_after.empty()) {
    details.retry_after = parse_retry_after(retry_after, std::chrono::system_clock::now());
  }
  const std::string prefix = "fal refused " + describe(operation) + " (HTTP " +
                             std::to_string(status) + ")" +
                             (details.detail.empty() ? "" : ": " + details.detail);
  if (status == 401) {
    details.kind = FalErrorKind::auth;
    return FalError(std::move(details), prefix,
                    "check FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET, or [fal] key_file): fal "
                    "did not accept the key");
  }
  if (status == 403) {
    details.kind = FalErrorKind::forbidden;
    return FalError(std::move(details), prefix + " - the key has no permission for this",
                    "not retried: check the key's scope and the account's balance in fal's "
                    "dashboard");
  }
  // fal-protocol.md §6.1/§6.4: the request did not start within its x-fal-request-timeout;
  // fal already queued and retried it, so it is final, never retried.
  const bool user_timeout =
      status == 504 && response.header("x-fal-request-timeout-type") == "user";
  if (user_timeout) {
    details.kind = FalErrorKind::http_final;
    return FalError(std::move(details),
                    "fal gave up on " + describe(operation) +
                        ": the request did not start within its timeout (HTTP 504, timeout "
                        "type user)",
                    "not retried; send the job again when fal is less busy");
  }
  if (status == 408 || status == 429 || status >= 500) {
    details.kind = FalErrorKind::http_transient;
    // Outside "result" a 500 is fal's trouble, not the job's; the caller may try later.
    if (!(operation == "result" && status == 500)) {
      return FalError(std::move(details), prefix, "fal is busy or unavailable; retried later");
    }
  }
  if (operation == "result" && status != 404) {
    details.kind = FalErrorKind::app_failure;
    return FalError(std::move(details),
                    "the lipsync model failed at fal (HTTP " + std::to_string(status) + ")" +
                        (details.detail.empty() ? "" : ": " + details.detail),
                    "check the inputs (a visible face, real speech); fal's message says why");
  }
  details.kind = FalErrorKind::http_final;
  return FalError(std::move(details), prefix,
                  status == 422 ? "fix the field fal names; the input was not accepted"
                                : "this is not retried; see fal's message");
}

FalError transport_error(std::string_view operation, const TransportError& error, bool is_submit) {
  using Stage = TransportError::Stage;
  const bool reached_server = error.stage == Stage::send || error.stage == Stage::receive;
  if (is_submit && reached_server) {
    return FalError(
        {FalErrorKind::ambiguous_submit, 0, error.what(), {}},
        std::string("the submission may or may not have reached fal (") + error.what() + ")",
        "not resent automatically, to avoid paying twice: look the request up in "
        "fal's dashboard, then retry or cancel the job");
  }
  if (error.timed_out) {
    return FalError({FalErrorKind::timeout, 0, error.what(), {}},
                    describe(operation) + " timed out (" + error.what() + ")",
                    "the network or fal is slow; retried later ([fal] connect_timeout_s, "
                    "io_timeout_s)");
  }
  if (error.stage == Stage::tls) {
    return FalError({FalErrorKind::tls, 0, error.what(), {}},
                    "refused the server's TLS certificate (" + std::string(error.what()) + ")",
                    "check the host name, the system CA store and [fal] ca_file / --ca-file");
  }
  return FalError({FalErrorKind::network, 0, error.what(), {}},
                  describe(operation) + " failed: " + error.what(),
                  "check the network connection; retried later");
}

}  // namespace

std::string_view to_string(CancelOutcome outcome) noexcept {
  switch (outcome) {
    case CancelOutcome::cancelled_before_run:
      return "cancelled_before_run";
    case CancelOutcome::requested_while_running:
      return "requested_while_running";
    case CancelOutcome::already_completed:
      return "already_completed";
    case CancelOutcome::not_found:
      return "not_found";
  }
  return "unknown";
}

std::string_view describe(CancelOutcome outcome) noexcept {
  switch (outcome) {
    case CancelOutcome::cancelled_before_run:
      return "cancelled before it ran (nothing billed)";
    case CancelOutcome::requested_while_running:
      return "cancellation requested while running (it may still complete and be billed)";
    case CancelOutcome::already_completed:
      return "already completed (it ran and is billed; nothing to cancel)";
    case CancelOutcome::not_found:
      return "not known to fal (expired or never created; nothing to cancel)";
  }
  return "unknown";
}

class Client::Impl {
 public:
  Impl(asio::any_io_executor executor, const FalConfig& config, ClientOptions options)
      : executor_(executor),
        config_(config),
        options_(std::move(options)),
        endpoint_(parse_endpoint_id(config.endpoint)),
        queue_base_(config.queue_url),
        rest_base_(config.rest_url),
        queue_origin_(parse_url(config.queue_url).origin()),
        transport_(executor, make_settings()),
        random_(std::random_device{}()) {
    if (options_.user_agent.empty()) options_.user_agent = std::string("lipsyncd/") + kVersion;
    // Refuse plain HTTP to anything but loopback before any request is made.
    check_scheme(parse_url(queue_base_));
    check_scheme(parse_url(rest_base_));
  }

  std::shared_ptr<ClientObserver> observer;

  const EndpointId& endpoint() const { return endpoint_; }

  awaitable<std::string> upload(std::filesystem::path file, std::string content_type) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat info {};
    if (!fd.valid() || ::fstat(fd.get(), &info) != 0) {
      throw Error("input_unreadable", "cannot read " + file.string() + ": " + std::strerror(errno),
                  "check that the file exists and is readable");
    }
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (content_type.empty()) content_type = sniff_content_type(file);
    const json::object announce{{"content_type", content_type},
                                {"file_name", file.filename().string()}};
    if (size > options_.multipart_threshold) {
      co_return co_await upload_multipart(fd.get(), size, json::serialize(announce));
    }
    const json::object slot = co_await call_json(
        "initiate_upload",
        api_request("POST", initiate_upload_url(rest_base_, false), json::serialize(announce)),
        RetryPolicy::standard(), false);
    const std::string upload_url = required_string(slot, "upload_url", "initiate_upload", 200);
    const std::string file_url = required_string(slot, "file_url", "initiate_upload", 200);

    // A signed URL: no Authorization header, only the content type, like fal's client.
    HttpRequest put{"PUT",
                    checked(parse_url(upload_url)),
                    signed_url_headers({{"Content-Type", content_type}}),
                    {},
                    FileBody{fd.get(), 0, size}};
    co_await call("upload", put, RetryPolicy::standard(), false);
    spdlog::debug("fal: uploaded {} ({} bytes, {})", file.filename().string(), size, content_type);
    co_return file_url;
  }

  awaitable<Submission> submit(LipsyncInput input) {
    json::object body{{"video_url", input.video_url}, {"audio_url", input.audio_url}};
    if (!input.model.empty()) body["model"] = input.model;
    if (!input.sync_mode.empty()) body["sync_mode"] = input.sync_mode;
    HttpRequest request =
        api_request("POST", submit_url(queue_base_, endpoint_), json::serialize(body));
    request.headers.emplace_back("x-fal-queue-priority", "normal");
    const json::object answer = co_await call_json("submit", request, RetryPolicy::queue(), true);
    Submission submission;
    submission.request_id = required_string(answer, "request_id", "submit", 200);
    submission.status_url = string_field(answer, "status_url");
    submission.response_url = string_field(answer, "response_url");
    submission.cancel_url = string_field(answer, "cancel_url");
    if (const auto position = integer_field(answer, "queue_position")) {
      submission.queue_position = static_cast<int>(*position);
    }
    remember_urls(submission);
    spdlog::debug("fal: submitted to {} as request {}", endpoint_.full(), submission.request_id);
    co_return submission;
  }

  // fal's own URLs for a request, kept only when they point at the configured queue host:
  // the key is sent along, and must never go anywhere else.
  void remember_urls(const Submission& submission) {
    RequestUrls urls;
    const auto keep = [this](const std::string& text) -> std::string {
      if (text.empty()) return {};
      try {
        const Url url = parse_url(text);
        if (url.origin() == queue_origin_ && url.query().empty()) return text;
      } catch (const FalError&) {
      }
      spdlog::debug("fal: ignoring returned URL {} (not on {})", text, queue_origin_);
      return {};
    };
    urls.status = keep(submission.status_url);
    urls.response = keep(submission.response_url);
    urls.cancel = keep(submission.cancel_url);
    if (!urls.status.empty() || !urls.response.empty() || !urls.cancel.empty()) {
      request_urls_[submission.request_id] = std::move(urls);
    }
  }

  std::string status_url_for(const std::string& request_id, bool with_logs) const {
    const auto known = request_urls_.find(request_id);
    if (known == request_urls_.end() || known->second.status.empty()) {
      return status_url(queue_base_, endpoint_, request_id, with_logs);
    }
    return known->second.status + (with_logs ? "?logs=1" : "?logs=0");
  }

  std::string status_stream_url_for(const std::string& request_id) const {
    const auto known = request_urls_.find(request_id);
    if (known == request_urls_.end() || known->second.status.empty()) {
      return status_stream_url(queue_base_, endpoint_, request_id, true);
    }
    return known->second.status + "/stream?logs=1";
  }

  std::string result_url_for(const std::string& request_id) const {
    const auto known = request_urls_.find(request_id);
    if (known == request_urls_.end() || known->second.response.empty()) {
      return result_url(queue_base_, endpoint_, request_id);
    }
    return known->second.response;
  }

  std::string cancel_url_for(const std::string& request_id) const {
    const auto known = request_urls_.find(request_id);
    if (known == request_urls_.end() || known->second.cancel.empty()) {
      return cancel_url(queue_base_, endpoint_, request_id);
    }
    return known->second.cancel;
  }

  awaitable<QueueStatus> status(std::string request_id, bool with_logs) {
    const json::object answer =
        co_await call_json("status", api_request("GET", status_url_for(request_id, with_logs)),
                           RetryPolicy::status(), false);
    co_return parse_status(answer, 200);
  }

  awaitable<LipsyncOutput> result(std::string request_id) {
    const json::object answer = co_await call_json(
        "result", api_request("GET", result_url_for(request_id)), RetryPolicy::queue(), false);
    const auto* video = answer.if_contains("video");
    if (video == nullptr || !video->is_object()) {
      throw FalError({FalErrorKind::app_failure, 200, detail_sentence(json::serialize(answer)), {}},
                     "fal's result has no video: " + detail_sentence(json::serialize(answer)),
                     "the model produced no output; check the inputs");
    }
    LipsyncOutput output;
    output.video_url = required_string(video->as_object(), "url", "result", 200);
    output.content_type = string_field(video->as_object(), "content_type");
    output.file_name = string_field(video->as_object(), "file_name");
    if (const auto size = integer_field(video->as_object(), "file_size"); size && *size >= 0) {
      output.file_size = static_cast<std::uint64_t>(*size);
    }
    co_return output;
  }

  awaitable<CancelOutcome> cancel(std::string request_id) {
    std::optional<CancelOutcome> refused;
    try {
      co_await call("cancel", api_request("PUT", cancel_url_for(request_id)),
                    RetryPolicy::standard(), false);
    } catch (const FalError& error) {
      // §4.5: 400 {"status":"ALREADY_COMPLETED"}, 404 {"status":"NOT_FOUND"}.
      if (error.http_status() == 400 && error.detail() == "ALREADY_COMPLETED") {
        refused = CancelOutcome::already_completed;
      } else if (error.http_status() == 404) {
        refused = CancelOutcome::not_found;
      } else {
        throw;
      }
    }
    if (refused) co_return *refused;
    // 202 CANCELLATION_REQUESTED means either case; the status tells which one happened.
    const QueueStatus after = co_await status(request_id, false);
    if (after.state == QueueState::in_progress ||
        (after.state == QueueState::completed && after.error_type != "client_cancelled")) {
      co_return CancelOutcome::requested_while_running;
    }
    co_return CancelOutcome::cancelled_before_run;
  }

  awaitable<void> download(std::string url, std::filesystem::path destination,
                           std::optional<std::uint64_t> expected_size) {
    const RetryPolicy policy = RetryPolicy::standard().scaled(options_.retry_delay_scale);
    for (int attempt = 0;; ++attempt) {
      std::optional<FalError> failure;
      try {
        co_await download_once(url, destination, expected_size);
        co_return;
      } catch (const FalError& error) {
        failure = error;
      }
      if (!policy.should_retry(*failure, attempt)) throw *failure;
      co_await pause("download", *failure, policy.delay(attempt, *failure, unit_random()));
    }
  }

  awaitable<QueueStatus> wait_for_completion(std::string request_id, ProgressCallback on_progress) {
    const auto deadline = std::chrono::steady_clock::now() + to_ms(config_.total_timeout_s);
    ProgressTracker tracker;
    tracker.callback = std::move(on_progress);
    if (config_.stream_status) {
      if (auto done = co_await follow_stream(request_id, tracker, deadline)) co_return *done;
      spdlog::debug("fal: status stream ended early; polling instead");
    }
    milliseconds interval(config_.poll_interval_ms);
    const milliseconds max_interval(
        std::max(config_.max_poll_interval_ms, config_.poll_interval_ms));
    for (;;) {
      QueueStatus current = co_await status(request_id, true);
      tracker.report(current);
      if (current.state == QueueState::completed) co_return current;
      // Back off while queued (positions change slowly); poll briskly once it runs.
      interval = current.state == QueueState::in_queue
                     ? std::min(max_interval, interval + interval / 2)
                     : milliseconds(config_.poll_interval_ms);
      const auto now = std::chrono::steady_clock::now();
      if (now + interval >= deadline) throw total_timeout(request_id);
      co_await sleep(interval);
    }
  }

 private:
  struct ProgressTracker {
    ProgressCallback callback;
    std::optional<QueueState> last_state;
    std::optional<int> last_position;
    std::size_t logs_seen = 0;

    void report(const QueueStatus& status) {
      Progress progress{status.state, status.queue_position, {}};
      if (status.logs.size() > logs_seen) {
        progress.new_logs.assign(status.logs.begin() + static_cast<std::ptrdiff_t>(logs_seen),
                                 status.logs.end());
        logs_seen = status.logs.size();
      }
      const bool changed = status.state != last_state || status.queue_position != last_position ||
                           !progress.new_logs.empty();
      last_state = status.state;
      last_position = status.queue_position;
      if (changed && callback) callback(progress);
    }
    // Streamed statuses carry only the new log lines.
    void report_stream(QueueStatus status) {
      std::vector<LogLine> all(logs_seen);  // placeholders keep the count; only new ones matter
      all.insert(all.end(), status.logs.begin(), status.logs.end());
      status.logs = std::move(all);
      report(status);
    }
  };

  FalError total_timeout(const std::string& request_id) const {
    return FalError({FalErrorKind::timeout, 0, {}, {}},
                    "request " + request_id + " did not complete within " +
                        std::to_string(static_cast<long long>(config_.total_timeout_s)) + " s",
                    "fal is slow or its queue is long; the request is still at fal, poll it "
                    "later or raise [fal] total_timeout_s");
  }

  // Server-sent events: each `data:` line is a status object. Returns the COMPLETED status,
  // or nothing when the stream broke off (the caller then polls).
  awaitable<std::optional<QueueStatus>> follow_stream(
      const std::string& request_id, ProgressTracker& tracker,
      std::chrono::steady_clock::time_point deadline) {
    HttpRequest request = api_request("GET", status_stream_url_for(request_id));
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
        boost::system::error_code ec;
        const json::value value = json::parse(std::string_view(line).substr(5), ec);
        if (ec || !value.is_object()) continue;
        QueueStatus status = parse_status(value.as_object(), 200);
        tracker.report_stream(status);
        if (status.state == QueueState::completed) completed = std::move(status);
      }
    };
    try {
      const HttpResponse response = co_await transport_.send(request, options);
      note_response("status", response.status);
      if (response.status / 100 != 2) throw http_error("status", response);
    } catch (const TransportError& error) {
      spdlog::debug("fal: status stream for {}: {}", request_id, error.what());
    }
    if (!completed && std::chrono::steady_clock::now() >= deadline) throw total_timeout(request_id);
    co_return completed;
  }

  awaitable<void> download_once(const std::string& url_text,
                                const std::filesystem::path& destination,
                                std::optional<std::uint64_t> expected_size) {
    Url url = checked(parse_url(url_text));
    for (int redirects = 0;; ++redirects) {
      AtomicFile file(destination);
      std::uint64_t written = 0;
      SendOptions options;
      options.body_sink = [&](std::string_view chunk) {
        file.write(chunk);
        written += chunk.size();
      };
      // Files are public CDN URLs: never send the key there.
      HttpRequest request{
          "GET", url, {{"User-Agent", options_.user_agent}, {"Accept", "*/*"}}, {}, {}};
      HttpResponse response;
      try {
        response = co_await transport_.send(request, options);
      } catch (const TransportError& error) {
        throw transport_error("download", error, false);
      }
      note_response("download", response.status);
      if (response.status >= 300 && response.status < 400 && !response.header("location").empty()) {
        if (redirects >= kMaxRedirects) {
          throw FalError({FalErrorKind::http_final, response.status, {}, {}},
                         "the download of " + url.origin() + url.path() + " redirected more than " +
                             std::to_string(kMaxRedirects) + " times",
                         "the file host is misconfigured");
        }
        const Url next = resolve_location(url, response.header("location"));
        // Only https targets (plain HTTP stays confined to a loopback test setup).
        if (!next.is_https() && !(url.is_loopback() && next.is_loopback())) {
          throw FalError({FalErrorKind::http_final, response.status, {}, {}},
                         "the download was redirected to a plain-HTTP URL (" + next.origin() + ")",
                         "only https redirects are followed");
        }
        url = next;
        continue;
      }
      if (response.status / 100 != 2) throw http_error("download", response);
      if (expected_size && written != *expected_size) {
        throw FalError({FalErrorKind::network, response.status, {}, {}},
                       "the download of " + destination.filename().string() +
                           " is incomplete: " + std::to_string(written) + " of " +
                           std::to_string(*expected_size) + " bytes",
                       "the connection broke off; retried");
      }
      file.commit();
      spdlog::debug("fal: downloaded {} bytes to {}", written, destination.string());
      co_return;
    }
  }

  awaitable<std::string> upload_multipart(int fd, std::uint64_t size, std::string announce) {
    const json::object slot = co_await call_json(
        "initiate_upload", api_request("POST", initiate_upload_url(rest_base_, true), announce),
        RetryPolicy::standard(), false);
    const std::string upload_url = required_string(slot, "upload_url", "initiate_upload", 200);
    const std::string file_url = required_string(slot, "file_url", "initiate_upload", 200);
    json::array parts;
    const std::uint64_t part_size = options_.part_size;
    const int part_count = static_cast<int>((size + part_size - 1) / part_size);
    for (int number = 1; number <= part_count; ++number) {
      const std::uint64_t offset = static_cast<std::uint64_t>(number - 1) * part_size;
      // No Content-Type: the official client sends each part as an untyped slice.
      HttpRequest put{"PUT",
                      checked(parse_url(upload_part_url(upload_url, number))),
                      signed_url_headers({}),
                      {},
                      FileBody{fd, offset, std::min(part_size, size - offset)}};
      // Each part is retried on its own: a broken connection costs one part, not the file.
      const json::object part =
          co_await call_json("upload_part", put, RetryPolicy::standard(), false);
      const auto part_number = integer_field(part, "partNumber");
      parts.push_back(json::object{{"partNumber", part_number.value_or(number)},
                                   {"etag", required_string(part, "etag", "upload_part", 200)}});
    }
    HttpRequest complete{"POST",
                         checked(parse_url(complete_upload_url(upload_url))),
                         signed_url_headers({{"Content-Type", "application/json"}}),
                         json::serialize(json::object{{"parts", std::move(parts)}}),
                         {}};
    co_await call("complete_upload", complete, RetryPolicy::standard(), false);
    spdlog::debug("fal: uploaded {} bytes in {} parts", size, part_count);
    co_return file_url;
  }

  // Signed upload URLs need no key (and must never see it): the official client's fetch
  // sends only these there.
  std::vector<std::pair<std::string, std::string>> signed_url_headers(
      std::vector<std::pair<std::string, std::string>> headers) const {
    headers.emplace_back("Accept", "*/*");
    headers.emplace_back("User-Agent", options_.user_agent);
    return headers;
  }

  // An API request: the headers fal's official client sends, credentials included.
  HttpRequest api_request(std::string method, const std::string& url,
                          std::optional<std::string> body = {}) const {
    HttpRequest request{std::move(method), checked(parse_url(url)), {}, std::move(body), {}};
    request.headers = {{"Authorization", "Key " + config_.credentials},
                       {"Accept", "application/json"},
                       {"Content-Type", "application/json"},
                       {"User-Agent", options_.user_agent}};
    return request;
  }

  awaitable<json::object> call_json(std::string_view operation, const HttpRequest& request,
                                    const RetryPolicy& policy, bool is_submit) {
    const HttpResponse response = co_await call(operation, request, policy, is_submit);
    co_return parse_object(response, operation);
  }

  // One API call with the operation's retry policy. Returns only 2xx responses.
  awaitable<HttpResponse> call(std::string_view operation, const HttpRequest& request,
                               RetryPolicy policy, bool is_submit) {
    policy = policy.scaled(options_.retry_delay_scale);
    SendOptions options;
    options.fresh_connection = is_submit;  // a stale kept-alive socket must never blur a submit
    for (int attempt = 0;; ++attempt) {
      std::optional<FalError> failure;
      const auto started = std::chrono::steady_clock::now();
      try {
        HttpResponse response = co_await transport_.send(request, options);
        note_response(operation, response.status);
        spdlog::debug(
            "fal: {} {}{} -> {} in {} ms", request.method, request.url.origin(), request.url.path(),
            response.status,
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started)
                .count());
        if (response.status / 100 == 2) co_return response;
        failure = http_error(operation, response);
      } catch (const TransportError& error) {
        failure = transport_error(operation, error, is_submit);
      }
      if (!policy.should_retry(*failure, attempt)) throw *failure;
      co_await pause(operation, *failure, policy.delay(attempt, *failure, unit_random()));
    }
  }

  awaitable<void> pause(std::string_view operation, const FalError& cause, milliseconds delay) {
    spdlog::debug("fal: {} failed ({}); retrying in {} ms", operation, cause.what(), delay.count());
    if (observer) observer->on_retry(operation, cause, delay);
    co_await sleep(delay);
  }

  awaitable<void> sleep(milliseconds delay) {
    asio::steady_timer timer(executor_, delay);
    co_await timer.async_wait(asio::use_awaitable);
  }

  void note_response(std::string_view operation, int status) {
    if (observer) observer->on_response(operation, status);
  }

  std::function<double()> unit_random() {
    return [this] { return std::uniform_real_distribution<double>(0, 1)(random_); };
  }

  Url checked(Url url) const {
    check_scheme(url);
    return url;
  }

  static void check_scheme(const Url& url) {
    if (!url.is_https() && !url.is_loopback()) {
      throw FalError({FalErrorKind::config, 0, {}, {}},
                     "refusing plain HTTP to " + url.origin() +
                         ": the key and files would travel "
                         "unencrypted",
                     "use https://, or plain http only for a local emulator on 127.0.0.1");
    }
  }

  detail::TransportSettings make_settings() {
    detail::TransportSettings settings;
    settings.extra_ca_file = config_.ca_file;
    settings.connect_timeout = to_ms(config_.connect_timeout_s);
    settings.io_timeout = to_ms(config_.io_timeout_s);
    settings.proxy = options_.proxy ? *options_.proxy : ProxySettings::from_environment();
    settings.buffer_size = options_.io_buffer_size;
    settings.on_bytes_sent = [this](std::size_t bytes) {
      if (observer) observer->on_bytes_sent(bytes);
    };
    settings.on_bytes_received = [this](std::size_t bytes) {
      if (observer) observer->on_bytes_received(bytes);
    };
    return settings;
  }

  struct RequestUrls {
    std::string status;
    std::string response;
    std::string cancel;
  };

  asio::any_io_executor executor_;
  FalConfig config_;
  ClientOptions options_;
  EndpointId endpoint_;
  std::string queue_base_;
  std::string rest_base_;
  std::string queue_origin_;
  std::map<std::string, RequestUrls> request_urls_;  // by request id, from submit answers
  detail::HttpTransport transport_;
  std::mt19937_64 random_;
};

Client::Client(asio::any_io_executor executor, const FalConfig& config, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), config, std::move(options))) {}

Client::~Client() = default;

void Client::set_observer(std::shared_ptr<ClientObserver> observer) {
  impl_->observer = std::move(observer);
}

awaitable<std::string> Client::upload(std::filesystem::path file, std::string content_type) {
  return impl_->upload(std::move(file), std::move(content_type));
}

awaitable<Submission> Client::submit(LipsyncInput input) {
  return impl_->submit(std::move(input));
}

awaitable<QueueStatus> Client::status(std::string request_id, bool with_logs) {
  return impl_->status(std::move(request_id), with_logs);
}

awaitable<LipsyncOutput> Client::result(std::string request_id) {
  return impl_->result(std::move(request_id));
}

void Client::remember_urls(const Submission& submission) {
  impl_->remember_urls(submission);
}

awaitable<CancelOutcome> Client::cancel(std::string request_id) {
  return impl_->cancel(std::move(request_id));
}

awaitable<void> Client::download(std::string url, std::filesystem::path destination,
                                 std::optional<std::uint64_t> expected_size) {
  return impl_->download(std::move(url), std::move(destination), expected_size);
}

awaitable<QueueStatus> Client::wait_for_completion(std::string request_id,
                                                   ProgressCallback on_progress) {
  return impl_->wait_for_completion(std::move(request_id), std::move(on_progress));
}

const EndpointId& Client::endpoint() const noexcept {
  return impl_->endpoint();
}

}  // namespace lipsyncd::fal
