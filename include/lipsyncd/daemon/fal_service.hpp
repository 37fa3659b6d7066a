#pragma once
// The pipeline's seam to fal.ai: the few operations a job needs, as coroutines on the event
// loop. The real implementation wraps fal::Client; unit tests pass a fake. Failures throw
// fal::FalError (or lipsyncd::Error); submit throws FalErrorKind::ambiguous_submit when the
// request may have been created, and must never be resent by the caller in that case.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "lipsyncd/fal/types.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::daemon {

struct ResultFile {
  std::string url;
  std::optional<std::uint64_t> size_bytes;
};

class FalService {
 public:
  virtual ~FalService() = default;
  virtual boost::asio::awaitable<std::string> upload(std::filesystem::path file) = 0;
  // The request id and the URLs fal gave for it; persist them before anything else.
  virtual boost::asio::awaitable<fal::Submission> submit(fal::LipsyncInput input) = 0;
  // Follows the request (at the URLs fal gave, where known) until it completes; returns its
  // output file. on_progress sees queue positions and new log lines.
  virtual boost::asio::awaitable<ResultFile> wait_for_result(
      fal::Submission request, std::function<void(const fal::Progress&)> on_progress) = 0;
  virtual boost::asio::awaitable<void> download(std::string url, std::filesystem::path destination,
                                                std::optional<std::uint64_t> size_bytes) = 0;
  // What the cancel achieved at fal (fal-protocol.md §4.5).
  virtual boost::asio::awaitable<fal::CancelOutcome> cancel(fal::Submission request) = 0;
  virtual std::string endpoint() const = 0;
};

// The request a job made at fal, as the store keeps it (its id and fal's own URLs).
fal::Submission fal_request_of(const spool::JobRecord& job);
// The submit's input for a planned, uploaded job: its files at fal, its model and sync mode.
fal::LipsyncInput lipsync_input(const spool::JobPlan& plan, const spool::JobUploads& uploads);
// What the store keeps of a submit's answer.
spool::RequestUrls request_urls_of(const fal::Submission& submission);

}  // namespace lipsyncd::daemon
