#include "lipsyncd/daemon/fal_client_service.hpp"

#include "lipsyncd/fal/client.hpp"

namespace lipsyncd::daemon {

using boost::asio::awaitable;

FalClientService::FalClientService(boost::asio::any_io_executor executor, const FalConfig& config,
                                   std::shared_ptr<fal::ClientObserver> observer)
    : client_(std::make_unique<fal::Client>(std::move(executor), config)) {
  if (observer) client_->set_observer(std::move(observer));
}

FalClientService::~FalClientService() = default;

awaitable<std::string> FalClientService::upload(std::filesystem::path file) {
  co_return co_await client_->upload(std::move(file));
}

fal::Submission fal_request_of(const spool::JobRecord& job) {
  fal::Submission request;
  request.request_id = job.request_id;
  request.status_url = job.request_urls.status;
  request.response_url = job.request_urls.response;
  request.cancel_url = job.request_urls.cancel;
  return request;
}

spool::RequestUrls request_urls_of(const fal::Submission& submission) {
  return {submission.status_url, submission.response_url, submission.cancel_url};
}

awaitable<fal::Submission> FalClientService::submit(fal::LipsyncInput input) {
  co_return co_await client_->submit(std::move(input));
}

awaitable<ResultFile> FalClientService::wait_for_result(
    fal::Submission request, std::function<void(const fal::Progress&)> on_progress) {
  client_->remember_urls(request);
  co_await client_->wait_for_completion(request.request_id, std::move(on_progress));
  // result() throws FalErrorKind::app_failure when the model failed at fal.
  const auto output = co_await client_->result(request.request_id);
  co_return ResultFile{output.video_url, output.file_size};
}

awaitable<void> FalClientService::download(std::string url, std::filesystem::path destination,
                                           std::optional<std::uint64_t> size_bytes) {
  co_await client_->download(std::move(url), std::move(destination), size_bytes);
}

awaitable<fal::CancelOutcome> FalClientService::cancel(fal::Submission request) {
  client_->remember_urls(request);
  co_return co_await client_->cancel(std::move(request.request_id));
}

std::string FalClientService::endpoint() const {
  return client_->endpoint().full();
}

}  // namespace lipsyncd::daemon
