#include "lipsyncd/fal/client.hpp"

#include "api_caller.hpp"
#include "completion_wait.hpp"
#include "download.hpp"
#include "queue_calls.hpp"
#include "storage_upload.hpp"

namespace lipsyncd::fal {

// The client's nouns, wired together: every call goes through one ApiCaller (headers,
// transport, retries, observer), so they share its keep-alive connections and its clock.
class Client::Impl {
 public:
  Impl(boost::asio::any_io_executor executor, const FalConfig& config, const ClientOptions& options)
      : api(std::move(executor), config, options),
        queue(api, config.queue_url, parse_endpoint_id(config.endpoint)),
        storage(api, config.rest_url, options.multipart_threshold, options.part_size),
        completion(api, queue, config),
        download(api) {
    // Refuse plain HTTP to anything but loopback before any request is made.
    detail::ApiCaller::checked(parse_url(config.queue_url));
    detail::ApiCaller::checked(parse_url(config.rest_url));
  }

  detail::ApiCaller api;
  detail::QueueCalls queue;
  detail::StorageUpload storage;
  detail::CompletionWait completion;
  detail::Download download;
};

Client::Client(boost::asio::any_io_executor executor, const FalConfig& config,
               ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), config, options)) {}

Client::~Client() = default;

void Client::set_observer(std::shared_ptr<ClientObserver> observer) {
  impl_->api.set_observer(std::move(observer));
}

awaitable<std::string> Client::upload(std::filesystem::path file, std::string content_type) {
  return impl_->storage.upload(std::move(file), std::move(content_type));
}

awaitable<Submission> Client::submit(LipsyncInput input) {
  return impl_->queue.submit(std::move(input));
}

void Client::remember_urls(const Submission& submission) {
  impl_->queue.remember_urls(submission);
}

awaitable<QueueStatus> Client::status(std::string request_id, bool with_logs) {
  return impl_->queue.status(std::move(request_id), with_logs);
}

awaitable<LipsyncOutput> Client::result(std::string request_id) {
  return impl_->queue.result(std::move(request_id));
}

awaitable<CancelOutcome> Client::cancel(std::string request_id) {
  return impl_->queue.cancel(std::move(request_id));
}

awaitable<void> Client::download(std::string url, std::filesystem::path destination,
                                 std::optional<std::uint64_t> expected_size) {
  return impl_->download.fetch(std::move(url), std::move(destination), expected_size);
}

awaitable<QueueStatus> Client::wait_for_completion(std::string request_id,
                                                   ProgressCallback on_progress) {
  return impl_->completion.wait(std::move(request_id), std::move(on_progress));
}

const EndpointId& Client::endpoint() const noexcept {
  return impl_->queue.endpoint();
}

}  // namespace lipsyncd::fal
