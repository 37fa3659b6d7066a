#pragma once
// Private to the fal module. fal's JSON on the wire, both ways: the bodies the client sends
// and the answers of the queue and storage APIs turned into the typed values of types.hpp.
// Boost.JSON stays inside wire_format.cpp. An answer that is not what fal documents throws
// FalError (http_transient: a proxy in the way, or an API change) naming the operation.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lipsyncd/fal/operation.hpp"
#include "lipsyncd/fal/types.hpp"

namespace lipsyncd::fal::detail {

// One readable sentence from fal's error body: FastAPI's `detail` (a string or a list of
// {loc, msg}), else `message`, `error` or `status`, else the raw text (300 characters).
std::string detail_sentence(const std::string& body);

// Storage: the announcement of a file, the signed URL it gets, and a multipart upload's parts.
struct UploadSlot {
  std::string upload_url;
  std::string file_url;
};
struct UploadedPart {
  std::int64_t number = 0;
  std::string etag;
};
std::string upload_announcement(const std::string& content_type, const std::string& file_name);
UploadSlot parse_upload_slot(const std::string& body, int http_status);
// fal's partNumber, or `number` when the answer leaves it out.
UploadedPart parse_uploaded_part(const std::string& body, int http_status, int number);
std::string complete_upload_body(const std::vector<UploadedPart>& parts);

// Queue: model and sync_mode are left out of the submit body when empty.
std::string submit_body(const LipsyncInput& input);
Submission parse_submission(const std::string& body, int http_status);
QueueStatus parse_status(const std::string& body, int http_status);
// The data of one server-sent event; nothing when it is not a JSON object (e.g. a keep-alive).
std::optional<QueueStatus> parse_status_event(std::string_view data);
// The model's output; app_failure when the answer has no video.
LipsyncOutput parse_output(const std::string& body, int http_status);

}  // namespace lipsyncd::fal::detail
