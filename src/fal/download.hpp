#pragma once
// Private to the fal module. Downloads of fal's output files: streamed into a temporary file
// beside the destination, up to 5 https redirects followed, the size checked, then renamed into
// place. Files are public CDN URLs: the key is never sent there. Each attempt (redirects
// included) is retried as a whole by the client's one retry loop.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "api_caller.hpp"

namespace lipsyncd::fal::detail {

class Download {
 public:
  explicit Download(ApiCaller& api) : api_(api) {}

  boost::asio::awaitable<void> fetch(std::string url, std::filesystem::path destination,
                                     std::optional<std::uint64_t> expected_size);

 private:
  boost::asio::awaitable<void> attempt(const std::string& url_text,
                                       const std::filesystem::path& destination,
                                       std::optional<std::uint64_t> expected_size);

  ApiCaller& api_;
};

}  // namespace lipsyncd::fal::detail
