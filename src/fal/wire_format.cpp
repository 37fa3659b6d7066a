#include "wire_format.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace lipsyncd::fal::detail {

namespace json = boost::json;

namespace {

json::object parse_object(Operation operation, const std::string& body, int http_status) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) {
    throw FalError({FalErrorKind::http_transient, http_status, {}, {}},
                   "fal answered " + std::string(to_string(operation)) +
                       " with something that is not a JSON object (HTTP " +
                       std::to_string(http_status) + ")",
                   "a proxy or load balancer may be in the way; try again later");
  }
  return std::move(value.as_object());
}

std::string string_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::optional<std::int64_t> integer_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
  if (value->is_double()) return static_cast<std::int64_t>(value->as_double());
  return std::nullopt;
}

std::string required_string(const json::object& object, std::string_view key, Operation operation,
                            int http_status) {
  std::string value = string_field(object, key);
  if (value.empty()) {
    throw FalError({FalErrorKind::http_transient, http_status, {}, {}},
                   "fal's answer to " + std::string(to_string(operation)) + " lacks \"" +
                       std::string(key) + "\"",
                   "the API may have changed; check fal's status page and lipsyncd's version");
  }
  return value;
}

std::string location_of(const json::value& loc) {
  std::string where;
  if (!loc.is_array()) return where;
  for (const auto& part : loc.as_array()) {
    const std::string text =
        part.is_string() ? std::string(part.as_string()) : json::serialize(part);
    if (text == "body" && where.empty()) continue;  // FastAPI's location prefix
    where += where.empty() ? text : "." + text;
  }
  return where;
}

// FastAPI's validation errors: [{loc, msg}, ...] as "where: message; ...".
std::string validation_sentence(const json::array& items) {
  std::string sentence;
  for (const auto& item : items) {
    if (!item.is_object()) continue;
    const auto* loc = item.as_object().if_contains("loc");
    const std::string where = loc != nullptr ? location_of(*loc) : std::string();
    const std::string message = string_field(item.as_object(), "msg");
    if (!sentence.empty()) sentence += "; ";
    sentence += where.empty() ? message : where + ": " + message;
  }
  return sentence;
}

QueueStatus status_from(const json::object& object, int http_status) {
  QueueStatus status;
  const std::string state = required_string(object, "status", Operation::status, http_status);
  if (state == "IN_QUEUE") {
    status.state = QueueState::in_queue;
  } else if (state == "IN_PROGRESS") {
    status.state = QueueState::in_progress;
  } else if (state == "COMPLETED") {
    status.state = QueueState::completed;
  } else {
    throw FalError({FalErrorKind::http_transient, http_status, state, {}},
                   "fal reported an unknown queue status \"" + state + "\"",
                   "the API may have changed; check lipsyncd's version");
  }
  if (const auto position = integer_field(object, "queue_position")) {
    status.queue_position = static_cast<int>(*position);
  }
  if (const auto* logs = object.if_contains("logs"); logs && logs->is_array()) {
    for (const auto& entry : logs->as_array()) {
      if (!entry.is_object()) continue;
      const auto& line = entry.as_object();
      status.logs.push_back({string_field(line, "timestamp"), string_field(line, "level"),
                             string_field(line, "message")});
    }
  }
  if (const auto* error = object.if_contains("error"); error && !error->is_null()) {
    status.error = error->is_string() ? std::string(error->as_string()) : json::serialize(*error);
  }
  status.error_type = string_field(object, "error_type");
  if (const auto* metrics = object.if_contains("metrics"); metrics && metrics->is_object()) {
    if (const auto* inference = metrics->as_object().if_contains("inference_time");
        inference && inference->is_number()) {
      status.inference_time_s = inference->to_number<double>();
    }
  }
  return status;
}

}  // namespace

std::string detail_sentence(const std::string& body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    const auto& object = parsed.as_object();
    if (const auto* detail = object.if_contains("detail")) {
      if (detail->is_string()) return std::string(detail->as_string());
      if (detail->is_array()) {
        std::string sentence = validation_sentence(detail->as_array());
        if (!sentence.empty()) return sentence;
      }
    }
    for (const char* key : {"message", "error", "status"}) {
      if (const auto* value = object.if_contains(key); value && value->is_string()) {
        return std::string(value->as_string());
      }
    }
  }
  std::string text = body.substr(0, 300);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

std::string upload_announcement(const std::string& content_type, const std::string& file_name) {
  return json::serialize(json::object{{"content_type", content_type}, {"file_name", file_name}});
}

UploadSlot parse_upload_slot(const std::string& body, int http_status) {
  const json::object slot = parse_object(Operation::initiate_upload, body, http_status);
  return {required_string(slot, "upload_url", Operation::initiate_upload, http_status),
          required_string(slot, "file_url", Operation::initiate_upload, http_status)};
}

UploadedPart parse_uploaded_part(const std::string& body, int http_status, int number) {
  const json::object part = parse_object(Operation::upload_part, body, http_status);
  return {integer_field(part, "partNumber").value_or(number),
          required_string(part, "etag", Operation::upload_part, http_status)};
}

std::string complete_upload_body(const std::vector<UploadedPart>& parts) {
  json::array list;
  for (const auto& part : parts) {
    list.push_back(json::object{{"partNumber", part.number}, {"etag", part.etag}});
  }
  return json::serialize(json::object{{"parts", std::move(list)}});
}

std::string submit_body(const LipsyncInput& input) {
  json::object body{{"video_url", input.video_url}, {"audio_url", input.audio_url}};
  if (!input.model.empty()) body["model"] = input.model;
  if (!input.sync_mode.empty()) body["sync_mode"] = input.sync_mode;
  return json::serialize(body);
}

Submission parse_submission(const std::string& body, int http_status) {
  const json::object answer = parse_object(Operation::submit, body, http_status);
  Submission submission;
  submission.request_id = required_string(answer, "request_id", Operation::submit, http_status);
  submission.status_url = string_field(answer, "status_url");
  submission.response_url = string_field(answer, "response_url");
  submission.cancel_url = string_field(answer, "cancel_url");
  if (const auto position = integer_field(answer, "queue_position")) {
    submission.queue_position = static_cast<int>(*position);
  }
  return submission;
}

QueueStatus parse_status(const std::string& body, int http_status) {
  return status_from(parse_object(Operation::status, body, http_status), http_status);
}

std::optional<QueueStatus> parse_status_event(std::string_view data) {
  boost::system::error_code ec;
  const json::value value = json::parse(data, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return status_from(value.as_object(), 200);
}

LipsyncOutput parse_output(const std::string& body, int http_status) {
  const json::object answer = parse_object(Operation::result, body, http_status);
  const auto* video = answer.if_contains("video");
  if (video == nullptr || !video->is_object()) {
    const std::string sentence = detail_sentence(json::serialize(answer));
    throw FalError({FalErrorKind::app_failure, http_status, sentence, {}},
                   "fal's result has no video: " + sentence,
                   "the model produced no output; check the inputs");
  }
  const auto& file = video->as_object();
  LipsyncOutput output;
  output.video_url = required_string(file, "url", Operation::result, http_status);
  output.content_type = string_field(file, "content_type");
  output.file_name = string_field(file, "file_name");
  if (const auto size = integer_field(file, "file_size"); size && *size >= 0) {
    output.file_size = static_cast<std::uint64_t>(*size);
  }
  return output;
}

}  // namespace lipsyncd::fal::detail
