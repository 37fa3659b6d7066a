#pragma once
// Private to the fal module. The calls on one endpoint's queue: submit, status, result and
// cancel, on the URLs fal returned with the submit when they point at the configured queue
// host (fal's docs say to use them), else on the URLs the official client builds.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <string>

#include "api_caller.hpp"

namespace lipsyncd::fal::detail {

class QueueCalls {
 public:
  QueueCalls(ApiCaller& api, std::string queue_base, EndpointId endpoint);

  const EndpointId& endpoint() const noexcept { return endpoint_; }

  boost::asio::awaitable<Submission> submit(LipsyncInput input);
  void remember_urls(const Submission& submission);
  boost::asio::awaitable<QueueStatus> status(std::string request_id, bool with_logs);
  boost::asio::awaitable<LipsyncOutput> result(std::string request_id);
  boost::asio::awaitable<CancelOutcome> cancel(std::string request_id);

  std::string status_stream_url_for(const std::string& request_id) const;

 private:
  struct RequestUrls {
    std::string status;
    std::string response;
    std::string cancel;
  };

  std::string status_url_for(const std::string& request_id, bool with_logs) const;
  std::string result_url_for(const std::string& request_id) const;
  std::string cancel_url_for(const std::string& request_id) const;
  // The remembered URLs of a request, or nothing.
  const RequestUrls* known(const std::string& request_id) const;

  ApiCaller& api_;
  std::string queue_base_;
  std::string queue_origin_;
  EndpointId endpoint_;
  std::map<std::string, RequestUrls> request_urls_;  // by request id, from submit answers
};

}  // namespace lipsyncd::fal::detail
