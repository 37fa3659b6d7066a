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

awaitable<std::string> FalClientService::submit(fal::LipsyncInput input) {
  const auto submission = co_await client_->submit(std::move(input));
  co_return submission.request_id;
}

awaitable<ResultFile> FalClientService::wait_for_result(
    std::string request_id, std::function<void(const fal::Progress&)> on_progress) {
  co_await client_->wait_for_completion(request_id, std::move(on_progress));
  // result() throws FalErrorKind::app_failure when the model failed at fal.
  const auto output = co_await client_->result(request_id);
  co_return ResultFile{output.video_url, output.file_size};
}

awaitable<void> FalClientService::download(std::string url, std::filesystem::path destination,
                                           std::optional<std::uint64_t> size_bytes) {
  co_await client_->download(std::move(url), std::move(destination), size_bytes);
}

awaitable<fal::CancelOutcome> FalClientService::cancel(std::string request_id) {
  co_return co_await client_->cancel(std::move(request_id));
}

std::string FalClientService::endpoint() const {
  return client_->endpoint().full();
}

}  // namespace lipsyncd::daemon
