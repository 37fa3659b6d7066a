#pragma once
// FalService on the real fal::Client (one client for the whole daemon, on the event loop).

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/daemon/fal_service.hpp"

namespace lipsyncd::fal {
class Client;
class ClientObserver;
}  // namespace lipsyncd::fal

namespace lipsyncd::daemon {

class FalClientService : public FalService {
 public:
  // observer (may be null) is told about traffic, responses and retries, for metrics.
  FalClientService(boost::asio::any_io_executor executor, const FalConfig& config,
                   std::shared_ptr<fal::ClientObserver> observer = nullptr);
  ~FalClientService() override;

  boost::asio::awaitable<std::string> upload(std::filesystem::path file) override;
  boost::asio::awaitable<fal::Submission> submit(fal::LipsyncInput input) override;
  boost::asio::awaitable<ResultFile> wait_for_result(
      fal::Submission request, std::function<void(const fal::Progress&)> on_progress) override;
  boost::asio::awaitable<void> download(std::string url, std::filesystem::path destination,
                                        std::optional<std::uint64_t> size_bytes) override;
  boost::asio::awaitable<fal::CancelOutcome> cancel(fal::Submission request) override;
  std::string endpoint() const override;

 private:
  std::unique_ptr<fal::Client> client_;
};

}  // namespace lipsyncd::daemon
