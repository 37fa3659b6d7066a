// `lipsyncd submit` end to end: the real binary against the real fal emulator on real media,
// over HTTP and HTTPS, with faults injected at every step. The emulator's request log is the
// witness: how many submissions happened, what was sent, and that the key never leaked.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <thread>

#include "child_process.hpp"
#include "emulator_process.hpp"
#include "test_media.hpp"
#include "tls_certs.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kKey = "e2e-secret-key-5f3a9c1d";
const char* const kVideo = "talk_h264_aac.mp4";  // 4.0 s
const char* const kAudio = "speech_5s.wav";      // 4.53 s
const std::regex kSubmitPath("^/fal-ai/sync-lipsync(/v[23])?$");
const std::regex kUploadPutPath("^/_storage/upload/.*$");

// The duration ffprobe reports for a media file, or -1.
double probe_duration(const std::filesystem::path& file, const std::filesystem::path& scratch) {
  const auto out = scratch / "ffprobe.out";
  std::filesystem::remove(out);
  const int code = run_to_completion({"/usr/bin/ffprobe", "-v", "error", "-show_entries",
                                      "format=duration", "-of", "csv=p=0", file.string()},
                                     out, 60s);
  if (code != 0) return -1;
  try {
    return std::stod(read_text(out));
  } catch (...) {
    return -1;
  }
}

struct SubmitRun {
  int exit_code = -1;
  std::string output;
  std::chrono::milliseconds elapsed{0};
};

class SubmitTest : public ::testing::Test {
 protected:
  void start_emulator(EmulatorOptions options = {}) {
    options.key = kKey;
    emulator_ = std::make_unique<EmulatorProcess>(dir_ / "emulator", options);
    ASSERT_FALSE(emulator_->url().empty());
  }

  SubmitRun submit(std::vector<std::string> extra_args = {}, std::vector<std::string> env = {},
                   const std::string& video = kVideo, const std::string& audio = kAudio) {
    std::vector<std::string> argv = {(bin_dir() / "lipsyncd").string(),
                                     "submit",
                                     media(video).string(),
                                     media(audio).string(),
                                     "--out",
                                     out().string(),
                                     "--queue-url",
                                     emulator_->url(),
                                     "--rest-url",
                                     emulator_->url()};
    // fal's default mode unless a test asks for another: its output length is min(v, a).
    if (std::find(extra_args.begin(), extra_args.end(), "--sync-mode") == extra_args.end()) {
      extra_args.insert(extra_args.end(), {"--sync-mode", "cut_off"});
    }
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    if (std::none_of(env.begin(), env.end(),
                     [](const std::string& e) { return e.rfind("FAL_KEY=", 0) == 0; })) {
      env.push_back(std::string("FAL_KEY=") + kKey);
    }
    ChildOptions options{env,
                         {"FAL_KEY_ID", "FAL_KEY_SECRET", "FAL_VIDEO_TO_VIDEO_LIPSYNC",
                          "https_proxy", "HTTPS_PROXY", "CREDENTIALS_DIRECTORY"},
                         dir_.path()};
    const auto log = dir_ / ("submit-" + std::to_string(++runs_) + ".log");
    const auto started = std::chrono::steady_clock::now();
    SubmitRun run;
    run.exit_code = run_to_completion(argv, log, 180s, options);
    run.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    run.output = read_text(log);
    return run;
  }

  std::filesystem::path out() const { return dir_ / "out" / "result.mp4"; }

  std::filesystem::path write_config(const std::string& toml) {
    const auto file = dir_ / "lipsyncd.toml";
    std::ofstream(file) << toml;
    return file;
  }

  // Requests the emulator created (submits that got a request id).
  size_t created_requests() const {
    size_t created = 0;
    for (const auto& entry : emulator_->requests()) {
      const auto* id = entry.if_contains("request_id");
      if (id != nullptr && id->is_string() && !id->as_string().empty()) ++created;
    }
    return created;
  }

  void expect_no_output_file() const {
    EXPECT_FALSE(std::filesystem::exists(out()));
    for (const auto& entry : std::filesystem::directory_iterator(out().parent_path())) {
      ADD_FAILURE() << "left behind in the output folder: " << entry.path();
    }
  }

  void SetUp() override { std::filesystem::create_directories(out().parent_path()); }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  int runs_ = 0;
};

TEST_F(SubmitTest, HappyPathPrintsProgressAndWritesThePlayableResult) {
  start_emulator({.queue_delay_ms = 300, .processing_ms = 600});
  const auto run = submit({"--sync-mode", "cut_off"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.0, 0.1);
  EXPECT_NE(run.output.find("queue: in queue"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("queue: processing"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("fal log:"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("wrote "), std::string::npos);
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 1u);
  EXPECT_EQ(emulator_->count("POST", std::regex("^/storage/upload/initiate$")), 2u);
  EXPECT_EQ(emulator_->count("PUT", kUploadPutPath), 2u);
  EXPECT_GE(emulator_->count("GET", std::regex("^/fal-ai/sync-lipsync/requests/[^/]+/status$")),
            1u);
  EXPECT_EQ(emulator_->count("GET", std::regex("^/fal-ai/sync-lipsync/requests/[^/]+$")), 1u);
}

TEST_F(SubmitTest, SubPathEndpointFromTheEnvironment) {
  start_emulator();
  const auto run =
      submit({"--sync-mode", "bounce"}, {"FAL_VIDEO_TO_VIDEO_LIPSYNC=fal-ai/sync-lipsync/v2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.53, 0.1);  // bounce: max(v, a)
  EXPECT_EQ(emulator_->count("POST", std::regex("^/fal-ai/sync-lipsync/v2$")), 1u);
  // Status and result drop the sub-path, as fal's official client does.
  EXPECT_EQ(emulator_->count("GET", std::regex("^/fal-ai/sync-lipsync/v2/.*$")), 0u);
  EXPECT_EQ(emulator_->count("GET", std::regex("^/fal-ai/sync-lipsync/requests/[^/]+$")), 1u);
}

// The JSON bodies of the submits the emulator logged.
std::vector<json::object> submit_bodies(const EmulatorProcess& emulator) {
  std::vector<json::object> bodies;
  for (const auto& entry : emulator.requests()) {
    if (entry.at("method") != "POST" ||
        !std::regex_match(std::string(entry.at("path").as_string()), kSubmitPath)) {
      continue;
    }
    if (const auto* body = entry.if_contains("body"); body && body->is_object()) {
      bodies.push_back(body->as_object());
    }
  }
  return bodies;
}

TEST_F(SubmitTest, V2WithoutAModelSendsAV2ModelAndPrintsTheEstimateBeforeUploading) {
  start_emulator();
  const auto run = submit({}, {"FAL_VIDEO_TO_VIDEO_LIPSYNC=fal-ai/sync-lipsync/v2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto bodies = submit_bodies(*emulator_);
  ASSERT_EQ(bodies.size(), 1u);
  ASSERT_TRUE(bodies[0].contains("model"));
  EXPECT_EQ(bodies[0].at("model"), "lipsync-2");
  const auto estimate = run.output.find("estimate: ");
  ASSERT_NE(estimate, std::string::npos) << run.output;
  EXPECT_LT(estimate, run.output.find("uploading ")) << "the price is shown before paying";
  EXPECT_NE(run.output.find("x $3.00/min = $"), std::string::npos) << run.output;
}

TEST_F(SubmitTest, V2ProCostsFiveDollarsAMinuteAndV3SendsNoModel) {
  start_emulator();
  const auto pro = submit({"--endpoint", "fal-ai/sync-lipsync/v2", "--model", "lipsync-2-pro"});
  ASSERT_EQ(pro.exit_code, 0) << pro.output;
  EXPECT_NE(pro.output.find("x $5.00/min = $"), std::string::npos) << pro.output;
  EXPECT_EQ(submit_bodies(*emulator_).back().at("model"), "lipsync-2-pro");
  std::filesystem::remove(out());
  const auto v3 = submit({"--endpoint", "fal-ai/sync-lipsync/v3"});
  ASSERT_EQ(v3.exit_code, 0) << v3.output;
  EXPECT_NE(v3.output.find("x $8.00/min = $"), std::string::npos) << v3.output;
  EXPECT_FALSE(submit_bodies(*emulator_).back().contains("model"));
}

TEST_F(SubmitTest, AModelOfAnotherEndpointExitsTwoWithNothingSentToFal) {
  start_emulator();
  const auto run =
      submit({"--endpoint", "fal-ai/sync-lipsync/v2", "--model", "lipsync-1.9.0-beta"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("lipsync-2, lipsync-2-pro"), std::string::npos) << run.output;
  EXPECT_TRUE(emulator_->requests().empty()) << "nothing may reach fal, not even an upload";
  expect_no_output_file();
}

TEST_F(SubmitTest, EndpointFlagAndLoopMode) {
  start_emulator();
  const auto run = submit({"--endpoint", "fal-ai/sync-lipsync/v2", "--sync-mode", "loop"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.53, 0.1);
  EXPECT_EQ(emulator_->count("POST", std::regex("^/fal-ai/sync-lipsync/v2$")), 1u);
}

TEST_F(SubmitTest, TooManyRequestsWaitsForRetryAfter) {
  start_emulator();
  emulator_->set_faults(R"({"faults": [{"method": "POST", "path": "^/fal-ai/sync-lipsync$",
      "action": "status", "status": 429, "retry_after": "2", "body": {"detail": "Rate limited"}}]})");
  const auto run = submit();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 2u);
  EXPECT_EQ(created_requests(), 1u);
  // The two submit attempts are at least Retry-After apart (the log's times are ISO-8601).
  std::vector<double> times;
  for (const auto& entry : emulator_->requests()) {
    if (entry.at("method") != "POST" || entry.at("path") != "/fal-ai/sync-lipsync") continue;
    const std::string time(entry.at("time").as_string());
    const auto t = time.substr(time.find('T') + 1);
    times.push_back(std::stod(t.substr(0, 2)) * 3600 + std::stod(t.substr(3, 2)) * 60 +
                    std::stod(t.substr(6)));
  }
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GE(times[1] - times[0], 1.9) << "Retry-After: 2 was not waited for";
}

TEST_F(SubmitTest, ServiceUnavailableTwiceThenSuccess) {
  start_emulator();
  emulator_->set_faults(R"({"faults": [
      {"method": "POST", "path": "^/fal-ai/sync-lipsync$", "action": "status", "status": 503, "times": 2},
      {"method": "GET", "path": "^/fal-ai/sync-lipsync/requests/[^/]+/status$", "action": "status",
       "status": 503, "times": 2}]})");
  const auto run = submit();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 3u);
  EXPECT_EQ(created_requests(), 1u);
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.0, 0.1);
}

TEST_F(SubmitTest, ConnectionResetMidUploadIsRetriedAndTheFileArrivesComplete) {
  start_emulator();
  emulator_->set_faults(R"({"method": "PUT", "path": "^/_storage/upload/.*$", "action": "reset",
      "after_bytes": 65536})");
  const auto run = submit({"--no-prepare", "--sync-mode", "cut_off"});  // upload the original
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(emulator_->count("PUT", kUploadPutPath), 3u);  // video twice, audio once
  // The emulator rendered the output from the uploaded video: it arrived whole.
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.0, 0.1);
  const auto entries = emulator_->requests();
  std::vector<std::int64_t> put_sizes;
  for (const auto& e : entries) {
    if (e.at("method") == "PUT") put_sizes.push_back(e.at("body_bytes").to_number<std::int64_t>());
  }
  ASSERT_EQ(put_sizes.size(), 3u);
  EXPECT_EQ(put_sizes[1], static_cast<std::int64_t>(std::filesystem::file_size(media(kVideo))));
}

TEST_F(SubmitTest, SlowServerMakesTimeoutsFireAndRetries) {
  start_emulator();
  emulator_->set_faults(R"({"method": "GET", "path": "^/fal-ai/sync-lipsync/requests/[^/]+/status$",
      "action": "delay", "delay_ms": 2500, "times": 2})");
  const auto config = write_config("[fal]\nio_timeout_s = 1\n");
  const auto run = submit({"--config", config.string(), "--log-level", "debug"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("timed out"), std::string::npos) << run.output;
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.0, 0.1);
}

TEST_F(SubmitTest, SlowServerBeyondTheRetriesFailsWithATimeout) {
  start_emulator();
  emulator_->set_faults(R"({"method": "POST", "path": "^/storage/upload/initiate$",
      "action": "delay", "delay_ms": 3000, "times": -1})");
  const auto config = write_config("[fal]\nio_timeout_s = 0.5\n");
  const auto run = submit({"--config", config.string()});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("fal_timeout"), std::string::npos) << run.output;
  // The emulator logs a delayed request when its delay is over: give the last one time.
  const std::regex initiate("^/storage/upload/initiate$");
  for (int i = 0; i < 100 && emulator_->count("POST", initiate) < 4; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(emulator_->count("POST", initiate), 4u);  // first try + 3 retries
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 0u);
  expect_no_output_file();
}

TEST_F(SubmitTest, ValidationErrorIsFinalAndNamesTheField) {
  start_emulator();
  emulator_->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$", "action": "status",
      "status": 422, "body": {"detail": [{"loc": ["body", "video_url"],
      "msg": "Video is too long: 11 minutes, at most 10", "type": "value_error"}]}})");
  const auto run = submit();
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("video_url: Video is too long"), std::string::npos) << run.output;
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 1u);
  expect_no_output_file();
}

TEST_F(SubmitTest, WrongKeyIsFinalAndSaysCheckFalKey) {
  start_emulator();
  const auto run = submit({}, {"FAL_KEY=not-the-key"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("check FAL_KEY"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("401"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("not-the-key"), std::string::npos) << "the key was printed";
  EXPECT_EQ(emulator_->requests().size(), 1u) << "a 401 must not be retried";
  expect_no_output_file();
}

TEST_F(SubmitTest, MissingKeyIsReportedBeforeAnyRequest) {
  start_emulator();
  const auto run = submit({}, {"FAL_KEY="});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("FAL_KEY"), std::string::npos) << run.output;
  EXPECT_TRUE(emulator_->requests().empty());
}

TEST_F(SubmitTest, AnUnknownLogLevelIsRefusedBeforeAnyRequest) {
  start_emulator();
  const auto run = submit({"--log-level", "loud"});
  EXPECT_EQ(run.exit_code, 2) << run.output;  // CLI11's usage error
  EXPECT_NE(run.output.find("--log-level"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("loud"), std::string::npos) << run.output;
  EXPECT_TRUE(emulator_->requests().empty());
  expect_no_output_file();
}

TEST_F(SubmitTest, AppFailureInsideFalIsReportedWithFalsMessage) {
  start_emulator();
  emulator_->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
      "action": "app_failure", "status": 422, "body": {"detail": [{"loc": ["body", "video_url"],
      "msg": "No face was detected in the video", "type": "face_detection_error"}]}})");
  const auto run = submit();
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("No face was detected in the video"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("fal_app_failure"), std::string::npos) << run.output;
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 1u);
  EXPECT_EQ(created_requests(), 1u);
  expect_no_output_file();
}

TEST_F(SubmitTest, AmbiguousSubmitIsReportedNotResent) {
  start_emulator();
  emulator_->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
      "action": "accept_then_reset"})");
  const auto run = submit();
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("fal_ambiguous_submit"), std::string::npos) << run.output;
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 1u) << "the submission was resent";
  EXPECT_EQ(created_requests(), 1u);
  expect_no_output_file();
}

TEST_F(SubmitTest, ResultFileMissingFailsWithoutAPartialFile) {
  start_emulator();
  emulator_->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
      "action": "result_file_404"})");
  const auto run = submit();
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("404"), std::string::npos) << run.output;
  expect_no_output_file();
}

TEST_F(SubmitTest, DownloadCutMidBodyIsRetried) {
  start_emulator();
  emulator_->set_faults(R"({"method": "GET", "path": "^/files/.*$", "action": "reset",
      "after_bytes": 20000})");
  const auto run = submit();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(emulator_->count("GET", std::regex("^/files/.*$")), 2u);
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.0, 0.1);
}

TEST_F(SubmitTest, TheKeyNeverAppearsInOutputOrFilesAtDebugLevel) {
  start_emulator({.queue_delay_ms = 200, .processing_ms = 300});
  emulator_->set_faults(R"({"faults": [
      {"method": "GET", "path": "^/fal-ai/sync-lipsync/requests/[^/]+/status$", "action": "status", "status": 503},
      {"method": "POST", "path": "^/storage/upload/initiate$", "action": "status", "status": 401}]})");
  auto failed = submit({"--log-level", "debug"});  // a failure path: 401 at the first call
  const auto run = submit({"--log-level", "trace"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("fal: POST"), std::string::npos) << "debug logging was not on";
  EXPECT_EQ(failed.output.find(kKey), std::string::npos);
  EXPECT_EQ(run.output.find(kKey), std::string::npos);
  // Every file the run wrote or the emulator recorded (request log included).
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!entry.is_regular_file()) continue;
    if (entry.path().filename() == "emulator.log") continue;  // it was given the key to check
    if (entry.path().filename() == "faults-request.json") continue;
    if (entry.file_size() > 64 * 1024 * 1024) continue;
    EXPECT_EQ(read_text(entry.path()).find(kKey), std::string::npos) << entry.path();
  }
}

// submit logs through the daemon's redacting logger: a key that reaches a log line (here fal
// echoes it in an error body, which the retry's debug line quotes) is masked, not printed.
TEST_F(SubmitTest, AKeyThatReachesALogLineIsRedacted) {
  start_emulator();
  emulator_->set_faults(std::string(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
      "action": "status", "status": 503, "times": 1, "body": {"detail": "busy; key was )") +
                        kKey + R"("}})");
  const auto run = submit({"--log-level", "debug"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 2u) << "the 503 was not retried";
  EXPECT_NE(run.output.find("busy; key was [redacted]"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find(kKey), std::string::npos) << run.output;
}

TEST_F(SubmitTest, HelpListsEveryOption) {
  const auto log = dir_ / "help.log";
  ASSERT_EQ(run_to_completion({(bin_dir() / "lipsyncd").string(), "submit", "--help"}, log), 0);
  const std::string help = read_text(log);
  for (const char* option : {"VIDEO", "AUDIO", "--out", "--model", "--sync-mode", "--endpoint",
                             "--queue-url", "--rest-url", "--ca-file", "--config", "FAL_KEY"}) {
    EXPECT_NE(help.find(option), std::string::npos) << option << " missing from:\n" << help;
  }
}

class SubmitTlsTest : public SubmitTest {
 protected:
  void SetUp() override {
    SubmitTest::SetUp();
    std::filesystem::create_directories(dir_ / "certs");
    certs_ = make_tls_certs(dir_ / "certs");
  }
  void start_tls(const std::filesystem::path& cert, const std::filesystem::path& key) {
    EmulatorOptions options;
    options.tls = true;
    options.tls_cert = cert;
    options.tls_key = key;
    start_emulator(options);
  }
  TlsCerts certs_;
};

TEST_F(SubmitTlsTest, HappyPathOverHttpsWithTheTestCa) {
  start_tls(certs_.server_cert, certs_.server_key);
  ASSERT_EQ(emulator_->url().rfind("https://", 0), 0u);
  const auto run = submit({"--ca-file", certs_.ca_cert.string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NEAR(probe_duration(out(), dir_.path()), 4.0, 0.1);
  EXPECT_EQ(emulator_->count("POST", kSubmitPath), 1u);
}

TEST_F(SubmitTlsTest, UnknownCaIsRefused) {
  start_tls(certs_.unknown_ca_cert, certs_.unknown_ca_key);
  const auto run = submit({"--ca-file", certs_.ca_cert.string()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("fal_tls"), std::string::npos) << run.output;
  EXPECT_TRUE(emulator_->requests().empty()) << "a request went over an untrusted connection";
  expect_no_output_file();
}

TEST_F(SubmitTlsTest, TrustedCertificateForAnotherHostIsRefused) {
  start_tls(certs_.wrong_host_cert, certs_.wrong_host_key);
  const auto run = submit({"--ca-file", certs_.ca_cert.string()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("fal_tls"), std::string::npos) << run.output;
  EXPECT_TRUE(emulator_->requests().empty());
}

TEST_F(SubmitTlsTest, WithoutTheCaFileTheTestCaIsNotTrusted) {
  start_tls(certs_.server_cert, certs_.server_key);
  const auto run = submit();
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("fal_tls"), std::string::npos) << run.output;
  EXPECT_TRUE(emulator_->requests().empty());
}

}  // namespace
}  // namespace lipsyncd::test
