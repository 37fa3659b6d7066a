#pragma once
// Private to the fal module. Uploads to fal's storage, as the official client does: announce
// the file (POST with the key), then PUT it to the signed URL fal returns (without the key),
// streamed from disk. Files above the multipart threshold go in parts, each retried on its own.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <string>

#include "api_caller.hpp"
#include "wire_format.hpp"

namespace lipsyncd::fal::detail {

class StorageUpload {
 public:
  StorageUpload(ApiCaller& api, std::string rest_base, std::uint64_t multipart_threshold,
                std::uint64_t part_size);

  // Returns the file's file_url. An empty content_type is sniffed from the file's first bytes.
  boost::asio::awaitable<std::string> upload(std::filesystem::path file, std::string content_type);

 private:
  boost::asio::awaitable<std::string> upload_whole(int fd, std::uint64_t size,
                                                   std::string announcement,
                                                   std::string content_type);
  boost::asio::awaitable<std::string> upload_multipart(int fd, std::uint64_t size,
                                                       std::string announcement);
  boost::asio::awaitable<UploadedPart> upload_part(const std::string& upload_url, int number,
                                                   FileBody slice);

  ApiCaller& api_;
  std::string rest_base_;
  std::uint64_t multipart_threshold_;
  std::uint64_t part_size_;
};

}  // namespace lipsyncd::fal::detail
