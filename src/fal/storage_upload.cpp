#include "storage_upload.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "lipsyncd/core/unique_fd.hpp"
#include "lipsyncd/fal/content_type.hpp"
#include "wire_format.hpp"

// GCC 12 reports -Wmismatched-new-delete for upload_multipart's coroutine frame: it pairs
// the frame's sized operator delete (Asio's recycling allocator) with the aligned_alloc it
// inlined from Asio's matching operator new. A false positive (see job_pipeline.cpp).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace lipsyncd::fal::detail {

namespace asio = boost::asio;

StorageUpload::StorageUpload(ApiCaller& api, std::string rest_base,
                             std::uint64_t multipart_threshold, std::uint64_t part_size)
    : api_(api),
      rest_base_(std::move(rest_base)),
      multipart_threshold_(multipart_threshold),
      part_size_(part_size) {}

asio::awaitable<std::string> StorageUpload::upload(std::filesystem::path file,
                                                   std::string content_type) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (!fd.valid() || ::fstat(fd.get(), &info) != 0) {
    throw Error("input_unreadable", "cannot read " + file.string() + ": " + std::strerror(errno),
                "check that the file exists and is readable");
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (content_type.empty()) content_type = sniff_content_type(file);
  std::string announcement = upload_announcement(content_type, file.filename().string());
  if (size > multipart_threshold_) {
    co_return co_await upload_multipart(fd.get(), size, std::move(announcement));
  }
  std::string file_url =
      co_await upload_whole(fd.get(), size, std::move(announcement), content_type);
  spdlog::debug("fal: uploaded {} ({} bytes, {})", file.filename().string(), size, content_type);
  co_return file_url;
}

asio::awaitable<std::string> StorageUpload::upload_whole(int fd, std::uint64_t size,
                                                         std::string announcement,
                                                         std::string content_type) {
  const HttpResponse answer = co_await api_.call(
      Operation::initiate_upload,
      api_.api_request("POST", initiate_upload_url(rest_base_, false), std::move(announcement)));
  const UploadSlot slot = parse_upload_slot(answer.body, answer.status);
  // A signed URL: no Authorization header, only the content type, like fal's client.
  HttpRequest put =
      api_.keyless_request("PUT", slot.upload_url, {{"Content-Type", std::move(content_type)}});
  put.file_body = FileBody{fd, 0, size};
  co_await api_.call(Operation::upload, put);
  co_return slot.file_url;
}

// Each part is retried on its own: a broken connection costs one part, not the file.
asio::awaitable<UploadedPart> StorageUpload::upload_part(const std::string& upload_url, int number,
                                                         FileBody slice) {
  // No Content-Type: the official client sends each part as an untyped slice.
  HttpRequest put = api_.keyless_request("PUT", upload_part_url(upload_url, number), {});
  put.file_body = slice;
  const HttpResponse uploaded = co_await api_.call(Operation::upload_part, put);
  co_return parse_uploaded_part(uploaded.body, uploaded.status, number);
}

asio::awaitable<std::string> StorageUpload::upload_multipart(int fd, std::uint64_t size,
                                                             std::string announcement) {
  const HttpResponse answer = co_await api_.call(
      Operation::initiate_upload,
      api_.api_request("POST", initiate_upload_url(rest_base_, true), std::move(announcement)));
  const UploadSlot slot = parse_upload_slot(answer.body, answer.status);
  std::vector<UploadedPart> parts;
  const int part_count = static_cast<int>((size + part_size_ - 1) / part_size_);
  for (int number = 1; number <= part_count; ++number) {
    const std::uint64_t offset = static_cast<std::uint64_t>(number - 1) * part_size_;
    parts.push_back(co_await upload_part(
        slot.upload_url, number, FileBody{fd, offset, std::min(part_size_, size - offset)}));
  }
  HttpRequest complete = api_.keyless_request("POST", complete_upload_url(slot.upload_url),
                                              {{"Content-Type", "application/json"}});
  complete.body = complete_upload_body(parts);
  co_await api_.call(Operation::complete_upload, complete);
  spdlog::debug("fal: uploaded {} bytes in {} parts", size, part_count);
  co_return slot.file_url;
}

}  // namespace lipsyncd::fal::detail
