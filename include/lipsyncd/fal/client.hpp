#pragma once
// fal.ai's queue and storage APIs as C++20 coroutines on Boost.Asio: upload a file, submit a
// sync-lipsync request, follow it, fetch its result and download the output. Many jobs can
// share one Client on one io_context. Beast stays inside the .cpp files.
//
// Contract:
// - All coroutines run on the executor given to the constructor; a Client is not thread-safe,
//   so use a single-threaded io_context or give it a strand.
// - Failures throw FalError (see error.hpp) after the retries the operation allows.
// - submit() is never resent once its body may have reached fal: an ambiguous failure throws
//   FalErrorKind::ambiguous_submit and the caller must find out (or ask a person) instead.
// - The credentials (FalConfig::credentials) are sent only to the queue and REST hosts as
//   `Authorization: Key ...`, never to upload or file URLs, and never logged.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/fal/clock.hpp"
#include "lipsyncd/fal/error.hpp"
#include "lipsyncd/fal/observer.hpp"
#include "lipsyncd/fal/retry_policy.hpp"
#include "lipsyncd/fal/types.hpp"
#include "lipsyncd/fal/url.hpp"

namespace lipsyncd::fal {

template <typename T>
using awaitable = boost::asio::awaitable<T>;

// Knobs that are not user configuration: tests shrink delays or pass a fake clock,
// benchmarks pick buffer sizes.
struct ClientOptions {
  double retry_delay_scale = 1.0;      // multiplies every backoff and Retry-After
  std::shared_ptr<Clock> clock;        // retry waits, polls, total timeout; default real_clock()
  std::optional<ProxySettings> proxy;  // default: from the environment
  std::uint64_t multipart_threshold = 90ull * 1024 * 1024;  // the official client's
  std::uint64_t part_size = 10ull * 1024 * 1024;            // the official client's
  std::size_t io_buffer_size = 1024 * 1024;  // upload/download chunk (constant memory)
  std::string user_agent;                    // default "lipsyncd/<version>"
};

class Client {
 public:
  Client(boost::asio::any_io_executor executor, const FalConfig& config,
         ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Metrics hook; may be null.
  void set_observer(std::shared_ptr<ClientObserver> observer);

  // Uploads `file` to fal's storage, streamed from disk (multipart above 90 MiB, 10 MiB
  // parts each retried), and returns its file_url. An empty content_type is sniffed from
  // the file's first bytes.
  awaitable<std::string> upload(std::filesystem::path file, std::string content_type = {});

  // POSTs the input to the configured endpoint's queue. Retried only when fal certainly did
  // not receive it (connection not established, or a retryable HTTP status). The status,
  // response and cancel URLs fal returns are remembered and used for that request (fal's
  // docs say to), when they point at the configured queue host; otherwise, and for requests
  // this client did not submit, the URLs are built as the official client builds them.
  awaitable<Submission> submit(LipsyncInput input);
  // Uses these URLs for submission.request_id from now on (e.g. persisted from an earlier run).
  void remember_urls(const Submission& submission);

  awaitable<QueueStatus> status(std::string request_id, bool with_logs = true);

  // The model's output; throws FalErrorKind::app_failure with fal's message when the
  // request failed inside fal.
  awaitable<LipsyncOutput> result(std::string request_id);

  // Asks fal to cancel the request and says what that achieved (see CancelOutcome). Throws
  // FalError for anything else (network, auth, ...).
  awaitable<CancelOutcome> cancel(std::string request_id);

  // Streams `url` into a temporary file beside `destination` (following up to 5 https
  // redirects), checks the size against expected_size when given, and renames it into place
  // atomically. Never sends credentials.
  awaitable<void> download(std::string url, std::filesystem::path destination,
                           std::optional<std::uint64_t> expected_size = {});

  // Polls (or, with [fal] stream_status, follows the server-sent event stream) until the
  // request is COMPLETED, calling on_progress whenever the state, queue position or logs
  // change. Polls back off from poll_interval_ms to max_poll_interval_ms while queued.
  // Throws FalErrorKind::timeout after total_timeout_s.
  using ProgressCallback = std::function<void(const Progress&)>;
  awaitable<QueueStatus> wait_for_completion(std::string request_id,
                                             ProgressCallback on_progress = {});

  const EndpointId& endpoint() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lipsyncd::fal
