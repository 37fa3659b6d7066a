// The real fal-emulator binary over HTTP(S), driven with curl: auth, storage, the queue's state
// machine, the request log and every scripted fault. Other engineers' e2e tests lean on these
// behaviours, so each is proved here once.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "emulator_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct HttpResult {
  int curl_exit = -1;
  int status = 0;
  std::string headers;  // of the last response
  std::string body;

  std::string header(const std::string& name) const {
    std::smatch match;
    const std::regex pattern("(^|\\n)" + name + ": ([^\\r\\n]*)", std::regex::icase);
    return std::regex_search(headers, match, pattern) ? match[2].str() : "";
  }
  json::value json_body() const {
    json::error_code ec;
    auto value = json::parse(body, ec);
    if (ec) ADD_FAILURE() << "not JSON: " << body;
    return value;
  }
};

class EmulatorTest : public ::testing::Test {
 protected:
  void start(EmulatorOptions options = {}) {
    emulator_ = std::make_unique<EmulatorProcess>(dir_.path() / "emulator", std::move(options));
    ASSERT_FALSE(emulator_->url().empty());
  }
  EmulatorProcess& emu() { return *emulator_; }

  // One curl call; `args` go before the URL. The key is sent unless `with_key` is false.
  HttpResult http(const std::string& method, const std::string& url,
                  std::vector<std::string> args = {}, bool with_key = true) {
    const auto id = std::to_string(++calls_);
    const auto headers = dir_ / ("h" + id);
    const auto body = dir_ / ("b" + id);
    std::vector<std::string> argv = {"/usr/bin/curl",  "-sS", "-k",         "-X", method, "-D",
                                     headers.string(), "-o",  body.string()};
    if (with_key) argv.insert(argv.end(), {"-H", "Authorization: Key " + emu().key()});
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    HttpResult result;
    result.curl_exit = run_to_completion(argv, dir_ / ("log" + id), 120s);
    result.headers = read_text(headers);
    // With redirects or 100-continue there may be several heads; the last one counts.
    const auto last = result.headers.rfind("HTTP/1.1 ");
    if (last != std::string::npos) {
      result.headers = result.headers.substr(last);
      result.status = std::stoi(result.headers.substr(9, 3));
    }
    result.body = read_text(body);
    return result;
  }

  HttpResult post_json(const std::string& path, const std::string& json_text,
                       std::vector<std::string> args = {}, bool with_key = true) {
    args.insert(args.end(), {"-H", "Content-Type: application/json", "--data-binary", json_text});
    return http("POST", emu().url() + path, args, with_key);
  }

  // Uploads a media file the way fal's client does and returns its file_url.
  std::string upload(const std::string& media_file, const std::string& content_type) {
    return upload_file(media(media_file), content_type);
  }
  std::string upload_file(const std::filesystem::path& file, const std::string& content_type) {
    const auto initiate =
        post_json("/storage/upload/initiate?storage_type=fal-cdn-v3",
                  R"({"content_type": ")" + content_type + R"(", "file_name": ")" +
                      file.filename().string() + R"("})");
    EXPECT_EQ(initiate.status, 200) << initiate.body;
    const auto body = initiate.json_body();
    const std::string upload_url(body.at("upload_url").as_string());
    const auto put = http(
        "PUT", upload_url,
        {"-H", "Content-Type: " + content_type, "--data-binary", "@" + file.string()},
        /*with_key=*/false);
    EXPECT_EQ(put.status, 200) << put.body;
    return std::string(body.at("file_url").as_string());
  }

  std::string lipsync_input(const std::string& extra = "") {
    if (video_url_.empty()) {
      video_url_ = upload("talk_h264_aac.mp4", "video/mp4");
      audio_url_ = upload("speech_1s.wav", "audio/wav");
    }
    return R"({"video_url": ")" + video_url_ + R"(", "audio_url": ")" + audio_url_ + "\"" + extra +
           "}";
  }

  json::object wait_completed(const std::string& request_id, std::chrono::seconds timeout = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto status =
          http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + request_id + "/status");
      if (status.status == 200 && status.json_body().at("status") == "COMPLETED") {
        return status.json_body().as_object();
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "request " << request_id << " did not complete";
    return {};
  }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  int calls_ = 0;
  std::string video_url_, audio_url_;
};

TEST_F(EmulatorTest, KeyIsRequiredAndUnknownThingsAre404) {
  start();
  const auto missing = post_json("/fal-ai/sync-lipsync", lipsync_input(), {}, /*with_key=*/false);
  EXPECT_EQ(missing.status, 401);
  EXPECT_TRUE(missing.json_body().as_object().contains("detail"));
  const auto wrong =
      post_json("/fal-ai/sync-lipsync", lipsync_input(), {"-H", "Authorization: Key nope"}, false);
  EXPECT_EQ(wrong.status, 401);
  const auto no_upload_key = post_json(
      "/storage/upload/initiate", R"({"content_type":"video/mp4","file_name":"a.mp4"})", {}, false);
  EXPECT_EQ(no_upload_key.status, 401);

  EXPECT_EQ(post_json("/fal-ai/no-such-app", lipsync_input()).status, 404);
  EXPECT_EQ(post_json("/fal-ai/sync-lipsync/v9", lipsync_input()).status, 404);
  const auto unknown_id = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/0000/status");
  EXPECT_EQ(unknown_id.status, 404);
  EXPECT_EQ(unknown_id.json_body(), (json::object{{"status", "NOT_FOUND"}}));
  const auto unknown_cancel =
      http("PUT", emu().url() + "/fal-ai/sync-lipsync/requests/0000/cancel");
  EXPECT_EQ(unknown_cancel.status, 404);
  EXPECT_EQ(unknown_cancel.json_body(), (json::object{{"status", "NOT_FOUND"}}));
  EXPECT_FALSE(unknown_id.header("x-fal-request-id").empty())
      << "every response carries x-fal-request-id";
  EXPECT_EQ(http("GET", emu().url() + "/files/nope/x.mp4").status, 404);
}

TEST_F(EmulatorTest, ValidationErrorsUseFastApiShape) {
  start();
  const auto response =
      post_json("/fal-ai/sync-lipsync", R"({"video_url": "not a url", "model": "x"})");
  ASSERT_EQ(response.status, 422);
  const auto detail = response.json_body().at("detail").as_array();
  ASSERT_EQ(detail.size(), 3U) << response.body;
  for (const auto& entry : detail) {
    EXPECT_EQ(entry.at("loc").as_array().at(0), "body");
    EXPECT_TRUE(entry.at("msg").is_string());
    EXPECT_TRUE(entry.at("type").is_string());
  }
  EXPECT_EQ(emu().count("POST", std::regex("/fal-ai/sync-lipsync")), 1U);
  // Pydantic v2 error types (fal-protocol.md §6.2), not the older value_error.missing.
  const auto missing = post_json("/fal-ai/sync-lipsync", "{}");
  ASSERT_EQ(missing.status, 422);
  EXPECT_EQ(missing.json_body().at("detail").at(0).at("type"), "missing");
}

TEST_F(EmulatorTest, EachEndpointValidatesItsOwnModelField) {
  start();
  // v2 knows only lipsync-2 and lipsync-2-pro (§9.2).
  const auto v1_model_on_v2 =
      post_json("/fal-ai/sync-lipsync/v2", lipsync_input(R"(, "model": "lipsync-1.9.0-beta")"));
  ASSERT_EQ(v1_model_on_v2.status, 422) << v1_model_on_v2.body;
  const auto entry = v1_model_on_v2.json_body().at("detail").at(0).as_object();
  EXPECT_EQ(entry.at("type"), "enum");
  EXPECT_EQ(entry.at("loc"), (json::array{"body", "model"}));
  EXPECT_EQ(entry.at("msg"), "Input should be 'lipsync-2' or 'lipsync-2-pro'");
  for (const char* model : {"lipsync-2", "lipsync-2-pro"}) {
    const auto accepted = post_json("/fal-ai/sync-lipsync/v2",
                                    lipsync_input(std::string(R"(, "model": ")") + model + "\""));
    EXPECT_EQ(accepted.status, 200) << model << ": " << accepted.body;
  }
  EXPECT_EQ(post_json("/fal-ai/sync-lipsync", lipsync_input(R"(, "model": "lipsync-2")")).status,
            422);
  // v3 has no model field: sending one is an unknown field (the emulator's assumption).
  const auto model_on_v3 =
      post_json("/fal-ai/sync-lipsync/v3", lipsync_input(R"(, "model": "lipsync-2")"));
  ASSERT_EQ(model_on_v3.status, 422);
  EXPECT_EQ(model_on_v3.json_body().at("detail").at(0).at("type"), "extra_forbidden");
  EXPECT_EQ(post_json("/fal-ai/sync-lipsync/v3", lipsync_input()).status, 200);
  const auto extra = post_json("/fal-ai/sync-lipsync/v2", lipsync_input(R"(, "temperature": 0.5)"));
  ASSERT_EQ(extra.status, 422);
  EXPECT_EQ(extra.json_body().at("detail").at(0).at("type"), "extra_forbidden");
}

TEST_F(EmulatorTest, UploadsAreStoredAndServedWithRanges) {
  start();
  const auto url = upload("speech_5s.wav", "audio/wav");
  const auto original = read_text(media("speech_5s.wav"));
  const auto whole = http("GET", url, {}, false);
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.header("Content-Type"), "audio/wav");
  EXPECT_TRUE(whole.body == original) << "downloaded bytes differ";
  const auto range = http("GET", url, {"-H", "Range: bytes=100-199"}, false);
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.header("Content-Range"), "bytes 100-199/" + std::to_string(original.size()));
  EXPECT_EQ(range.body, original.substr(100, 100));
  const auto tail = http("GET", url, {"-H", "Range: bytes=-10"}, false);
  EXPECT_EQ(tail.body, original.substr(original.size() - 10));
  EXPECT_EQ(http("GET", url, {"-H", "Range: bytes=999999999-"}, false).status, 416);
}

TEST_F(EmulatorTest, MultipartUploadJoinsPartsInOrderAndChecksEtags) {
  start();
  const auto initiate = post_json("/storage/upload/initiate-multipart?storage_type=fal-cdn-v3",
                                  R"({"content_type": "video/mp4", "file_name": "big.mp4"})");
  ASSERT_EQ(initiate.status, 200);
  const std::string upload_url(initiate.json_body().at("upload_url").as_string());
  const std::string file_url(initiate.json_body().at("file_url").as_string());
  const auto question = upload_url.find('?');
  const auto base = upload_url.substr(0, question);
  const auto query = upload_url.substr(question);
  std::vector<std::string> etags;
  for (const auto* part : {"talk_h264_aac.mp4", "speech_1s.wav"}) {
    const auto number = std::to_string(etags.size() + 1);
    const auto put = http("PUT", base + "/" + number + query,
                          {"--data-binary", "@" + media(part).string()}, false);
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.json_body().at("partNumber").to_number<int>(), std::stoi(number));
    etags.emplace_back(put.json_body().at("etag").as_string());
  }
  EXPECT_EQ(http("GET", file_url, {}, false).status, 404) << "not served before complete";
  const auto bad = post_json(base.substr(emu().url().size()) + "/complete" + query,
                             R"({"parts": [{"partNumber": 1, "etag": "\"wrong\""}]})", {}, false);
  EXPECT_EQ(bad.status, 400);
  json::array parts;
  for (size_t i = 0; i < etags.size(); ++i) {
    parts.push_back(json::object{{"partNumber", i + 1}, {"etag", etags[i]}});
  }
  const auto done = post_json(base.substr(emu().url().size()) + "/complete" + query,
                              json::serialize(json::object{{"parts", parts}}), {}, false);
  ASSERT_EQ(done.status, 200) << done.body;
  const auto joined = http("GET", file_url, {}, false);
  EXPECT_TRUE(joined.body ==
              read_text(media("talk_h264_aac.mp4")) + read_text(media("speech_1s.wav")));
}

TEST_F(EmulatorTest, QueueStateMachineWithPositionsLogsCancelAndResult) {
  start({.queue_delay_ms = 1500, .processing_ms = 1500});
  const auto input = lipsync_input(R"(, "sync_mode": "cut_off")");
  const auto first =
      post_json("/fal-ai/sync-lipsync/v2", input, {"-H", "x-fal-queue-priority: normal"});
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string id(first.json_body().at("request_id").as_string());
  EXPECT_EQ(first.header("x-fal-request-id"), id);
  EXPECT_EQ(first.json_body().at("status_url").as_string(),
            emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/status");
  const auto second = post_json("/fal-ai/sync-lipsync", input);
  const std::string second_id(second.json_body().at("request_id").as_string());
  EXPECT_EQ(second.json_body().at("queue_position").to_number<int>(), 1);

  const auto queued =
      http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/status?logs=1");
  EXPECT_EQ(queued.json_body().at("status"), "IN_QUEUE");
  EXPECT_EQ(queued.json_body().at("queue_position").to_number<int>(), 0);
  EXPECT_EQ(http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id).status, 400)
      << "no result before COMPLETED";
  const auto cancelled =
      http("PUT", emu().url() + "/fal-ai/sync-lipsync/requests/" + second_id + "/cancel");
  EXPECT_EQ(cancelled.status, 202);
  EXPECT_EQ(cancelled.json_body().at("status"), "CANCELLATION_REQUESTED");

  bool saw_progress_logs = false;
  for (int i = 0; i < 300 && !saw_progress_logs; ++i) {
    const auto status =
        http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/status?logs=1");
    const auto body = status.json_body();
    if (body.at("status") == "IN_PROGRESS") {
      saw_progress_logs = body.at("logs").is_array() && !body.at("logs").as_array().empty();
      const auto without =
          http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/status?logs=0");
      EXPECT_TRUE(without.json_body().at("logs").is_null()) << "logs only with logs=1";
      const auto python_style =
          http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/status?logs=true");
      EXPECT_TRUE(python_style.json_body().at("logs").is_array()) << "logs=true as Python sends";
      EXPECT_TRUE(
          http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/status?logs=false")
              .json_body()
              .at("logs")
              .is_null());
      const auto& line = body.at("logs").as_array().at(0).as_object();
      EXPECT_EQ(line.at("source"), "USER");
      EXPECT_TRUE(std::regex_match(std::string(line.at("timestamp").as_string()),
                                   std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
          << line.at("timestamp");
      // §4.5: cancelling a running request is accepted; it may still complete (and bill).
      const auto running_cancel =
          http("PUT", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/cancel");
      EXPECT_EQ(running_cancel.status, 202);
      EXPECT_EQ(running_cancel.json_body().at("status"), "CANCELLATION_REQUESTED");
    }
    if (body.at("status") == "COMPLETED") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(saw_progress_logs);
  wait_completed(id);
  const auto result = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id);
  ASSERT_EQ(result.status, 200) << result.body;
  // The full-id form (owner/alias/path/requests/...) and /response serve the same request.
  const auto full_status =
      http("GET", emu().url() + "/fal-ai/sync-lipsync/v2/requests/" + id + "/status");
  EXPECT_EQ(full_status.status, 200);
  EXPECT_EQ(full_status.json_body().at("status"), "COMPLETED");
  EXPECT_EQ(http("GET", emu().url() + "/fal-ai/sync-lipsync/v2/requests/" + id).body, result.body);
  EXPECT_EQ(http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/response").body,
            result.body);
  EXPECT_EQ(http("GET", emu().url() + "/fal-ai/sync-lipsync/v2/requests/" + id + "/response").body,
            result.body);
  EXPECT_EQ(http("GET", emu().url() + "/fal-ai/sync-lipsync/v3/requests/" + id + "/status").status,
            404)
      << "the full-id form names the endpoint the request went to";
  // The queued request cancelled above: COMPLETED + client_cancelled, result 499 (§11).
  const auto cancelled_status = wait_completed(second_id);
  EXPECT_EQ(cancelled_status.at("error_type"), "client_cancelled");
  const auto cancelled_result =
      http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + second_id);
  EXPECT_EQ(cancelled_result.status, 499);
  EXPECT_EQ(cancelled_result.json_body().at("error_type"), "client_cancelled");
  const auto video = result.json_body().at("video").as_object();
  EXPECT_EQ(video.at("content_type"), "video/mp4");
  const auto output = http("GET", std::string(video.at("url").as_string()), {}, false);
  EXPECT_EQ(output.status, 200);
  EXPECT_EQ(output.body.size(), video.at("file_size").to_number<size_t>());
  EXPECT_EQ(output.body.substr(4, 4), "ftyp") << "an MP4";
  const auto late_cancel =
      http("PUT", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/cancel");
  EXPECT_EQ(late_cancel.status, 400);
  EXPECT_EQ(late_cancel.json_body().at("status"), "ALREADY_COMPLETED");
}

TEST_F(EmulatorTest, RequestLogRecordsEveryRequestBeforeItsResponse) {
  start();
  const auto url = upload("speech_1s.wav", "audio/wav");  // 2 requests
  http("GET", url, {}, false);
  post_json("/fal-ai/sync-lipsync", "{}");
  post_json("/fal-ai/sync-lipsync", lipsync_input(), {"-H", "x-fal-runner-hint: abc"}, false);
  http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/nope");
  emu().set_faults(R"({"path": "^/nothing$", "action": "delay"})");  // control: not logged
  const auto entries = emu().requests();
  // upload 2 + GET + 422 + (lipsync_input's 2 uploads × 2 requests) + 401 + 404
  ASSERT_EQ(entries.size(), 10U);
  EXPECT_EQ(entries[0].at("path"), "/storage/upload/initiate");
  EXPECT_EQ(entries[0].at("query"), "storage_type=fal-cdn-v3");
  EXPECT_EQ(entries[0].at("status").to_number<int>(), 200);
  EXPECT_EQ(entries[1].at("method"), "PUT");
  EXPECT_EQ(entries[1].at("body_bytes").to_number<size_t>(),
            read_text(media("speech_1s.wav")).size());
  EXPECT_EQ(entries[3].at("status").to_number<int>(), 422);
  EXPECT_EQ(entries[3].at("body"), json::object{});
  const auto& unauthorized = entries[8];
  EXPECT_EQ(unauthorized.at("status").to_number<int>(), 401);
  EXPECT_EQ(unauthorized.at("header_values").at("x-fal-runner-hint"), "abc");
  EXPECT_EQ(unauthorized.at("body").at("video_url").as_string(), video_url_);
  EXPECT_EQ(entries[9].at("status").to_number<int>(), 404);
  const auto names = entries[0].at("headers").as_array();
  EXPECT_NE(std::find(names.begin(), names.end(), json::value("authorization")), names.end());
  EXPECT_EQ(read_text(emu().request_log()).find(emu().key()), std::string::npos)
      << "the key never lands in the log";
  EXPECT_EQ(emu().count("POST", std::regex("/storage/upload/.*")), 3U);
}

TEST_F(EmulatorTest, StatusFaultWithRetryAfterAppliesTimesThenStops) {
  start();
  const auto input = lipsync_input();
  emu().set_faults(
      R"({"faults": [{"method": "POST", "path": "^/fal-ai/sync-lipsync$", "action": "status",
                       "status": 429, "retry_after": 3, "times": 2}]})");
  for (int i = 0; i < 2; ++i) {
    const auto limited = post_json("/fal-ai/sync-lipsync", input);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.header("Retry-After"), "3");
  }
  EXPECT_EQ(post_json("/fal-ai/sync-lipsync", input).status, 200);
  EXPECT_EQ(emu().count("POST", std::regex("/fal-ai/sync-lipsync")), 3U);
}

TEST_F(EmulatorTest, AcceptThenResetCreatesTheRequestButAnswersNothing) {
  start();
  const auto input = lipsync_input();
  emu().set_faults(R"({"path": "^/fal-ai/sync-lipsync$", "action": "accept_then_reset"})");
  const auto dropped = post_json("/fal-ai/sync-lipsync", input);
  EXPECT_NE(dropped.curl_exit, 0) << "the client sees a dropped connection";
  EXPECT_EQ(dropped.status, 0);
  const auto entries = emu().requests();
  ASSERT_TRUE(entries.back().contains("request_id")) << "yet the request was created";
  const std::string id(entries.back().at("request_id").as_string());
  wait_completed(id);
  EXPECT_EQ(http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id).status, 200);
}

TEST_F(EmulatorTest, ResetMidUploadStoresNothing) {
  start();
  const auto initiate =
      post_json("/storage/upload/initiate", R"({"content_type":"video/mp4","file_name":"v.mp4"})");
  const std::string upload_url(initiate.json_body().at("upload_url").as_string());
  const std::string file_url(initiate.json_body().at("file_url").as_string());
  emu().set_faults(
      R"({"method": "PUT", "path": "^/_storage/upload/.*$", "action": "reset", "after_bytes": 50000})");
  const auto put =
      http("PUT", upload_url, {"--data-binary", "@" + media("talk_h264_aac.mp4").string()}, false);
  EXPECT_NE(put.curl_exit, 0);
  EXPECT_EQ(http("GET", file_url, {}, false).status, 404);
  // The same signed URL works once the fault is used up.
  const auto retry =
      http("PUT", upload_url, {"--data-binary", "@" + media("talk_h264_aac.mp4").string()}, false);
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(http("GET", file_url, {}, false).body.size(),
            read_text(media("talk_h264_aac.mp4")).size());
}

TEST_F(EmulatorTest, StatusFaultOnALargeUploadIsAnsweredNotDropped) {
  start();
  const auto initiate = post_json("/storage/upload/initiate",
                                  R"({"content_type":"video/mp4","file_name":"big.mp4"})");
  const std::string upload_url(initiate.json_body().at("upload_url").as_string());
  const auto big = dir_ / "big.bin";
  std::ofstream(big).close();
  std::filesystem::resize_file(big, 20 * 1024 * 1024);  // over the 16 MiB JSON limit
  emu().set_faults(
      R"({"method": "PUT", "path": "^/_storage/upload/.*$", "action": "status", "status": 503})");
  const auto refused = http("PUT", upload_url, {"--data-binary", "@" + big.string()}, false);
  EXPECT_EQ(refused.status, 503);
  const auto accepted = http("PUT", upload_url, {"--data-binary", "@" + big.string()}, false);
  EXPECT_EQ(accepted.status, 200);
  EXPECT_EQ(emu().requests().back().at("body_bytes").to_number<long long>(), 20 * 1024 * 1024);
}

TEST_F(EmulatorTest, ResetMidDownloadAndSlowBody) {
  start();
  const auto url = upload("speech_5s.wav", "audio/wav");
  emu().set_faults(
      R"({"faults": [{"method": "GET", "path": "^/files/.*$", "action": "reset", "after_bytes": 1000},
                                  {"method": "GET", "path": "^/files/.*$", "action": "slow_body", "bytes_per_second": 100000}]})");
  const auto cut = http("GET", url, {}, false);
  EXPECT_NE(cut.curl_exit, 0);
  EXPECT_EQ(cut.body.size(), 1000U) << "the connection dropped after exactly 1000 body bytes";
  const auto started = std::chrono::steady_clock::now();
  const auto slow = http("GET", url, {}, false);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(slow.status, 200);
  EXPECT_TRUE(slow.body == read_text(media("speech_5s.wav")));
  EXPECT_GE(took, 1500ms) << "about 200 KB at 100 KB/s cannot arrive faster";
}

TEST_F(EmulatorTest, AppFailureAndMissingResultFile) {
  start();
  const auto input = lipsync_input();
  emu().set_faults(R"({"faults": [
      {"path": "^/fal-ai/sync-lipsync$", "action": "app_failure", "status": 500, "body": {"detail": "CUDA out of memory"}},
      {"path": "^/fal-ai/sync-lipsync$", "action": "result_file_404"}]})");
  const std::string failing(
      post_json("/fal-ai/sync-lipsync", input).json_body().at("request_id").as_string());
  const std::string missing(
      post_json("/fal-ai/sync-lipsync", input).json_body().at("request_id").as_string());
  const auto status = wait_completed(failing);
  EXPECT_TRUE(status.contains("error"));
  const auto result = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + failing);
  EXPECT_EQ(result.status, 500);
  EXPECT_EQ(result.json_body().at("detail"), "CUDA out of memory");

  wait_completed(missing);
  const auto ok = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + missing);
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(
      http("GET", std::string(ok.json_body().at("video").at("url").as_string()), {}, false).status,
      404);
}

TEST_F(EmulatorTest, InputsFromElsewhereFailLikeFalAppErrors) {
  start();
  lipsync_input();
  const auto submitted = post_json(
      "/fal-ai/sync-lipsync",
      R"({"video_url": "https://example.com/v.mp4", "audio_url": ")" + audio_url_ + "\"}");
  ASSERT_EQ(submitted.status, 200);
  const std::string id(submitted.json_body().at("request_id").as_string());
  const auto status = wait_completed(id);
  EXPECT_EQ(status.at("error_type"), "file_download_error");
  const auto result = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id);
  EXPECT_EQ(result.status, 422);
  EXPECT_EQ(result.json_body().at("detail").at(0).at("loc"), (json::array{"body", "video_url"}));
  EXPECT_EQ(result.header("X-Fal-Retryable"), "false");
}

// sync-lipsync-model.md "Limitations": about 10 minutes of video at most. How fal refuses a
// longer one is not documented: the emulator's answer is an assumption (its README).
TEST_F(EmulatorTest, AVideoOverTenMinutesFailsAsAModelErrorAndTenMinutesRenders) {
  start();
  const auto make_video = [this](const std::string& name, int seconds) {
    const auto file = dir_ / name;
    const int made = run_to_completion(
        {"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=64x64:rate=5:duration=" + std::to_string(seconds), "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "250", file.string()},
        dir_ / (name + ".log"), 120s);
    EXPECT_EQ(made, 0) << read_text(dir_ / (name + ".log"));
    return upload_file(file, "video/mp4");
  };
  const auto audio = upload("speech_1s.wav", "audio/wav");
  const auto submit = [&](const std::string& video) {
    const auto submitted =
        post_json("/fal-ai/sync-lipsync", R"({"video_url": ")" + video +
                                              R"(", "audio_url": ")" + audio +
                                              R"(", "sync_mode": "cut_off"})");
    EXPECT_EQ(submitted.status, 200) << submitted.body;
    return std::string(submitted.json_body().at("request_id").as_string());
  };

  const auto too_long = submit(make_video("v601.mp4", 601));
  EXPECT_EQ(wait_completed(too_long).at("error_type"), "video_duration_too_long");
  const auto refused = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + too_long);
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.json_body().at("detail").at(0).at("loc"), (json::array{"body", "video_url"}));
  EXPECT_EQ(refused.header("X-Fal-Retryable"), "false");

  const auto at_limit = submit(make_video("v600.mp4", 600));
  EXPECT_FALSE(wait_completed(at_limit).contains("error_type"));
  const auto rendered = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + at_limit);
  EXPECT_EQ(rendered.status, 200) << rendered.body;
}

TEST_F(EmulatorTest, StatusStreamSendsEventsUntilCompleted) {
  start({.queue_delay_ms = 300, .processing_ms = 500});
  const std::string id(
      post_json("/fal-ai/sync-lipsync", lipsync_input()).json_body().at("request_id").as_string());
  const auto stream = http(
      "GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id + "/status/stream?logs=1", {"-N"});
  EXPECT_EQ(stream.status, 200);
  EXPECT_NE(stream.header("Content-Type").find("text/event-stream"), std::string::npos);
  EXPECT_NE(stream.body.find(R"("status":"IN_QUEUE")"), std::string::npos) << stream.body;
  EXPECT_NE(stream.body.find(R"("status":"IN_PROGRESS")"), std::string::npos);
  const auto last_event = stream.body.rfind("data: ");
  ASSERT_NE(last_event, std::string::npos);
  EXPECT_NE(stream.body.find(R"("status":"COMPLETED")", last_event), std::string::npos)
      << "ends after COMPLETED";
}

TEST_F(EmulatorTest, SyncRunAndStartTimeout) {
  start({.queue_delay_ms = 2500});
  const auto run = post_json("/_sync/fal-ai/sync-lipsync", lipsync_input());
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.json_body().at("video").at("content_type"), "video/mp4");
  const auto submitted =
      post_json("/fal-ai/sync-lipsync", lipsync_input(), {"-H", "x-fal-request-timeout: 1"});
  const std::string id(submitted.json_body().at("request_id").as_string());
  wait_completed(id);
  const auto result = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id);
  EXPECT_EQ(result.status, 504);
  EXPECT_EQ(result.header("x-fal-request-timeout-type"), "user");
}

TEST_F(EmulatorTest, StartTimeoutHeaderAndMaxQueueLength) {
  start({.queue_delay_ms = 2500});
  // §4.1: newer clients name the deadline x-fal-request-start-timeout.
  const auto submitted =
      post_json("/fal-ai/sync-lipsync", lipsync_input(), {"-H", "x-fal-request-start-timeout: 1"});
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  const std::string id(submitted.json_body().at("request_id").as_string());
  // One request waits in the queue: a limit of 1 refuses the next with 429 + the retry hint.
  const auto full = post_json("/fal-ai/sync-lipsync?fal_max_queue_length=1", lipsync_input());
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_EQ(full.header("X-Fal-Needs-Retry"), "1");
  EXPECT_EQ(post_json("/fal-ai/sync-lipsync?fal_max_queue_length=5", lipsync_input()).status, 200);
  wait_completed(id);
  const auto result = http("GET", emu().url() + "/fal-ai/sync-lipsync/requests/" + id);
  EXPECT_EQ(result.status, 504);
  EXPECT_EQ(result.header("x-fal-request-timeout-type"), "user");
}

TEST_F(EmulatorTest, FaultRulesSetHeadersRawBodiesAndCanOmitTheRequestId) {
  start();
  emu().set_faults(R"({"faults": [
    {"method": "POST", "path": "^/fal-ai/sync-lipsync$", "action": "status", "status": 429,
     "headers": {"X-Fal-Needs-Retry": "1"}, "body": {"detail": "concurrent requests limit"}},
    {"method": "POST", "path": "^/fal-ai/sync-lipsync$", "action": "status", "status": 502,
     "raw_body": "<html><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
     "request_id_header": false}]})");
  const auto busy = post_json("/fal-ai/sync-lipsync", lipsync_input());
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.header("X-Fal-Needs-Retry"), "1");
  EXPECT_FALSE(busy.header("x-fal-request-id").empty());
  const auto ingress = post_json("/fal-ai/sync-lipsync", lipsync_input());
  EXPECT_EQ(ingress.status, 502);
  EXPECT_EQ(ingress.header("Content-Type"), "text/html");
  EXPECT_NE(ingress.body.find("nginx"), std::string::npos);
  EXPECT_TRUE(ingress.header("x-fal-request-id").empty()) << "fal's ingress sends none";
  EXPECT_EQ(post_json("/fal-ai/sync-lipsync", lipsync_input()).status, 200) << "rules used up";
}

TEST_F(EmulatorTest, ServesHttpsWithGivenCertificate) {
  const auto cert = dir_ / "cert.pem";
  const auto key = dir_ / "key.pem";
  ASSERT_EQ(run_to_completion(
                {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=127.0.0.1", "-keyout", key.string(), "-out", cert.string()},
                dir_ / "openssl.log", 60s),
            0);
  start({.tls = true, .tls_cert = cert, .tls_key = key});
  EXPECT_EQ(emu().url().rfind("https://127.0.0.1:", 0), 0U) << emu().url();
  const auto url = upload("speech_1s.wav", "audio/wav");
  EXPECT_EQ(url.rfind("https://", 0), 0U);
  EXPECT_EQ(http("GET", url, {}, false).status, 200);
  EXPECT_NE(http("GET", "http" + emu().url().substr(5) + "/files/x/y", {}, false).status, 200)
      << "plain HTTP is not served on the TLS port";
}

}  // namespace
}  // namespace lipsyncd::test
