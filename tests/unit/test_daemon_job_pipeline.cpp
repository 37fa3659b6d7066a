// The job pipeline against a real job store (SQLite in a temp folder) with fake media and a
// fake fal: every path of the state machine without a network, a codec or a sleep.

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "daemon_test_store.hpp"
#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/job_files.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/fal/error.hpp"
#include "test_media.hpp"

namespace lipsyncd::daemon {
namespace {

using spool::JobState;
using test::TempDir;

const std::string kFakeMp4 = std::string(
                                 "\0\0\0\x18"
                                 "ftypisom",
                                 12) +
                             "fake video body";

class FakeMedia : public MediaWork {
 public:
  std::optional<Error> reject;
  double output_s = 2.0;
  double result_s = 2.0;
  int prepares = 0;

  PreparedJob prepare(const std::filesystem::path& video, const std::filesystem::path& audio,
                      const std::filesystem::path& out_dir, std::optional<SyncMode>,
                      const ModelChoice& price) override {
    ++prepares;
    if (reject) throw *reject;
    PreparedJob prepared;
    prepared.plan.normalized_video = video;
    prepared.plan.normalized_audio = audio;
    prepared.plan.sync_mode = SyncMode::bounce;
    prepared.plan.reason = "audio longer";
    prepared.plan.model = price.model;
    prepared.plan.video_s = 1.5;
    prepared.plan.audio_s = output_s;
    prepared.plan.output_s = output_s;
    prepared.plan.usd_per_minute = price.usd_per_minute;
    prepared.plan.estimated_usd = estimate_usd(output_s, price.usd_per_minute);
    if (segments > 0) plan_segments(prepared, out_dir, price);
    return prepared;
  }
  VideoFacts probe_video(const std::filesystem::path& file) override {
    // A segment's result lies in <parent spool>/segments/NN/.
    const bool segment = file.parent_path().parent_path().filename() == "segments";
    return {true, segment ? segment_s : result_s};
  }

  StitchSummary stitch(const StitchWork& work, const std::filesystem::path& destination) override {
    ++stitches;
    last_stitch = work;
    if (stitch_failure) throw *stitch_failure;
    write_file_atomically(destination, kFakeMp4);
    return {.duration_s = work.expected_s};
  }

  // Long-form: a plan of `segments` parts of segment_s each, their files in out_dir/segments/.
  int segments = 0;
  double segment_s = 2.0;
  int stitches = 0;
  StitchWork last_stitch;
  std::optional<Error> stitch_failure;

  void plan_segments(PreparedJob& prepared, const std::filesystem::path& out_dir,
                     const ModelChoice& price) const {
    for (int i = 1; i <= segments; ++i) {
      const auto folder = out_dir / "segments" / ("0" + std::to_string(i));
      std::filesystem::create_directories(folder);
      write_file_atomically(folder / "video.mp4", "segment video " + std::to_string(i));
      write_file_atomically(folder / "audio.wav", "segment audio " + std::to_string(i));
      prepared.plan.segments.push_back(
          {.index = i,
           .start_s = (i - 1) * segment_s,
           .end_s = i * segment_s,
           .cut_reason = i == segments ? "end of the output" : "pause",
           .estimated_usd = estimate_usd(segment_s, price.usd_per_minute),
           .video = folder / "video.mp4",
           .audio = folder / "audio.wav"});
    }
    prepared.plan.sync_mode = SyncMode::cut_off;
    prepared.plan.output_s = segments * segment_s;
    prepared.plan.estimated_usd = estimate_usd(prepared.plan.output_s, price.usd_per_minute);
    result_s_for_long_form = prepared.plan.output_s;
  }
  mutable double result_s_for_long_form = 0;
};

class FakeFal : public FalService {
 public:
  int uploads = 0;
  int submits = 0;
  int waits = 0;
  int downloads = 0;
  std::optional<fal::FalErrorKind> fail_upload_once;
  std::optional<fal::FalErrorKind> fail_submit;
  std::optional<fal::FalErrorKind> fail_wait_once;
  int disk_full_downloads = 0;  // this many downloads find the spool's disk full
  int broken_downloads = 0;     // this many downloads bring an error page instead of the video

  static fal::FalError error(fal::FalErrorKind kind) {
    return fal::FalError(fal::FalErrorDetails{kind, 0, "injected", std::nullopt},
                         "injected " + std::string(fal::to_string(kind)));
  }

  std::function<void()> on_upload;  // runs during every upload, as another process might

  boost::asio::awaitable<std::string> upload(std::filesystem::path file) override {
    ++uploads;
    if (on_upload) on_upload();
    if (fail_upload_once) {
      const auto kind = *fail_upload_once;
      fail_upload_once.reset();
      throw error(kind);
    }
    co_return "http://fake/files/" + file.filename().string();
  }
  boost::asio::awaitable<fal::Submission> submit(fal::LipsyncInput input) override {
    ++submits;
    last_input = input;
    if (fail_submit) throw error(*fail_submit);
    fal::Submission submission;
    submission.request_id = "req-" + std::to_string(submits);
    submission.status_url = "http://fake/full/" + submission.request_id + "/status";
    submission.response_url = "http://fake/full/" + submission.request_id;
    submission.cancel_url = "http://fake/full/" + submission.request_id + "/cancel";
    co_return submission;
  }
  boost::asio::awaitable<ResultFile> wait_for_result(
      fal::Submission request, std::function<void(const fal::Progress&)> on_progress) override {
    const auto& request_id = request.request_id;
    followed.push_back(request);
    ++waits;
    if (fail_wait_once) {
      const auto kind = *fail_wait_once;
      fail_wait_once.reset();
      throw error(kind);
    }
    fal::Progress progress;
    progress.queue_position = 0;
    on_progress(progress);
    co_return ResultFile{"http://fake/results/" + request_id + ".mp4", kFakeMp4.size()};
  }
  boost::asio::awaitable<void> download(std::string, std::filesystem::path destination,
                                        std::optional<std::uint64_t>) override {
    ++downloads;
    if (disk_full_downloads > 0) {
      --disk_full_downloads;
      throw_disk_error("cannot write", destination, ENOSPC);
    }
    if (broken_downloads > 0) {
      --broken_downloads;
      write_file_atomically(destination, "<html>502 Bad Gateway</html>");
      co_return;
    }
    write_file_atomically(destination, kFakeMp4);
    co_return;
  }
  boost::asio::awaitable<fal::CancelOutcome> cancel(fal::Submission) override {
    co_return fal::CancelOutcome::cancelled_before_run;
  }
  std::string endpoint() const override { return endpoint_id; }
  std::string endpoint_id = "fal-ai/sync-lipsync";

  fal::LipsyncInput last_input;
  std::vector<fal::Submission> followed;  // what each wait_for_result was given
};

using test::read_text;

class JobPipelineTest : public ::testing::Test {
 protected:
  JobPipelineTest() {
    auto config = std::make_shared<Config>();
    config->paths.inbox = dir / "inbox";
    config->paths.outbox = dir / "outbox";
    config->paths.done = dir / "done";
    config->paths.error = dir / "error";
    config->paths.state = dir / "state";
    config->daemon.retry_base_s = 30;
    config_ = config;
    for (const auto* folder :
         {&config->paths.inbox, &config->paths.outbox, &config->paths.done, &config->paths.error}) {
      std::filesystem::create_directories(*folder);
    }
    make_store_and_pipeline();
  }

  void make_store_and_pipeline() {
    spool::JobStoreSettings settings;
    settings.state_dir = config_->paths.state;
    settings.default_model = config_->fal.model;
    settings.clock = [this] { return now; };
    store = spool::open_job_store(settings);
    make_pipeline();
  }

  void make_pipeline() {
    pipeline = std::make_unique<JobPipeline>(
        PipelineContext{*store, media, fal, io.get_executor(), cpu.get_executor(),
                        [this](const observe::JobEvent& e) { events.push_back(e); }},
        config_);
  }

  Config& config() { return const_cast<Config&>(*config_); }

  spool::JobId drop_pair(const std::string& stem, const std::string& video_bytes = "video",
                         const std::string& audio_bytes = "audio") {
    return store->claim(test_support::write_pair(dir / "inbox", stem, video_bytes, audio_bytes))
        .job.id;
  }

  void run(const spool::JobId& id) {
    auto done = boost::asio::co_spawn(io, pipeline->run(id), boost::asio::use_future);
    io.restart();
    io.run();
    done.get();
  }

  JobState state(const spool::JobId& id) { return store->get(id).state; }

  bool saw(observe::EventName name) const {
    for (const auto& e : events) {
      if (e.event == name) return true;
    }
    return false;
  }

  TempDir dir;
  spool::TimePoint now = std::chrono::system_clock::now();
  std::shared_ptr<const Config> config_;
  std::unique_ptr<spool::JobStore> store;
  boost::asio::io_context io;
  boost::asio::thread_pool cpu{1};
  FakeMedia media;
  FakeFal fal;
  std::vector<observe::JobEvent> events;
  std::unique_ptr<JobPipeline> pipeline;
};

TEST_F(JobPipelineTest, DeliversAPairWithSidecarAndArchivesTheInputs) {
  const auto id = drop_pair("clip");
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.uploads, 2);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(fal.last_input.sync_mode, "bounce");
  EXPECT_EQ(fal.last_input.model, "lipsync-1.9.0-beta");
  EXPECT_EQ(read_text(dir / "outbox/clip.lipsync.mp4"), kFakeMp4);
  const auto sidecar = boost::json::parse(read_text(dir / "outbox/clip.lipsync.json")).as_object();
  EXPECT_EQ(sidecar.at("request_id").as_string(), "req-1");
  EXPECT_EQ(sidecar.at("sync_mode").as_string(), "bounce");
  EXPECT_EQ(sidecar.at("sync_mode_reason").as_string(), "audio longer");
  EXPECT_TRUE(sidecar.at("stage_seconds").as_object().contains("fal"));
  EXPECT_TRUE(std::filesystem::exists(dir / "done/clip.mp4"));
  EXPECT_TRUE(std::filesystem::exists(dir / "done/clip.wav"));
  EXPECT_FALSE(std::filesystem::exists(store->get(id).spool_dir));
  EXPECT_TRUE(saw(observe::EventName::delivered));
}

TEST_F(JobPipelineTest, V2WithoutAModelSendsLipsync2AndEstimatesAtThreeDollarsAMinute) {
  fal.endpoint_id = "fal-ai/sync-lipsync/v2";
  const auto id = drop_pair("clip");
  run(id);
  ASSERT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.last_input.model, "lipsync-2");
  const auto sidecar = boost::json::parse(read_text(dir / "outbox/clip.lipsync.json")).as_object();
  EXPECT_FALSE(sidecar.contains("billed_cost_usd"));
  EXPECT_EQ(sidecar.at("model").as_string(), "lipsync-2");
  EXPECT_DOUBLE_EQ(sidecar.at("usd_per_minute").as_double(), 3.00);
  const double minutes = sidecar.at("estimate_minutes").as_double();
  EXPECT_GT(minutes, 0);
  // Rounded as the sidecar writes it: minutes to 5 decimals, dollars to 4.
  EXPECT_NEAR(sidecar.at("estimated_cost_usd").as_double(), minutes * 3.00, 1e-4);
}

TEST_F(JobPipelineTest, AJobModelNotOfTheEndpointGoesToErrorBeforeAnyWorkOrUpload) {
  const auto video = dir / "inbox" / "clip.mp4";
  const auto audio = dir / "inbox" / "clip.wav";
  std::ofstream(video, std::ios::binary) << "video";
  std::ofstream(audio, std::ios::binary) << "audio";
  JobRequest request;
  request.name = "clip";
  request.video = video;
  request.audio = audio;
  request.model = "lipsync-2";  // a v2 model in a manifest, while the endpoint is v1
  request.source = JobSource::same_stem;
  const auto id = store->claim(request).job.id;
  run(id);
  EXPECT_EQ(state(id), JobState::failed);
  EXPECT_EQ(store->get(id).error->reason_code, "unknown_model");
  EXPECT_EQ(media.prepares, 0);
  EXPECT_EQ(fal.uploads, 0);
  EXPECT_EQ(fal.submits, 0);
  const auto report = boost::json::parse(read_text(dir / "error/clip.error.json")).as_object();
  EXPECT_EQ(report.at("reason_code").as_string(), "unknown_model");
  EXPECT_NE(std::string(report.at("message").as_string()).find("lipsync-1.9.0-beta"),
            std::string::npos);
}

TEST_F(JobPipelineTest, TransientUploadFailureDefersWithBackoffThenSucceeds) {
  fal.fail_upload_once = fal::FalErrorKind::network;
  const auto id = drop_pair("clip");
  run(id);
  auto job = store->get(id);
  ASSERT_EQ(job.state, JobState::deferred);
  EXPECT_EQ(job.stage(), JobState::prepared);
  ASSERT_TRUE(job.next_attempt_at.has_value());
  // retry_base_s = 30 (the store keeps time to the millisecond or second).
  const auto wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(*job.next_attempt_at - now);
  EXPECT_GE(wait.count(), 29000);
  EXPECT_LE(wait.count(), 30000);
  run(id);  // not due yet: nothing happens
  EXPECT_EQ(state(id), JobState::deferred);
  now += std::chrono::seconds(31);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
}

TEST_F(JobPipelineTest, AmbiguousSubmitIsHeldAndNeverResent) {
  fal.fail_submit = fal::FalErrorKind::ambiguous_submit;
  const auto id = drop_pair("clip");
  run(id);
  auto job = store->get(id);
  EXPECT_EQ(job.state, JobState::held);
  EXPECT_EQ(job.hold_reason, spool::HoldReason::ambiguous_submit);
  run(id);
  now += std::chrono::hours(24);
  run(id);
  EXPECT_EQ(fal.submits, 1);
}

TEST_F(JobPipelineTest, RejectedInputsGoToErrorWithAReportAndNothingReachesFal) {
  media.reject = Error("no_face", "no face found in clip.mp4", "use a clip with a face");
  const auto id = drop_pair("clip");
  run(id);
  EXPECT_EQ(state(id), JobState::failed);
  EXPECT_EQ(fal.uploads, 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "error/clip.mp4"));
  EXPECT_TRUE(std::filesystem::exists(dir / "error/clip.wav"));
  const auto report = boost::json::parse(read_text(dir / "error/clip.error.json")).as_object();
  EXPECT_EQ(report.at("reason_code").as_string(), "no_face");
  EXPECT_EQ(report.at("stage").as_string(), "prepare");
  EXPECT_EQ(report.at("job_id").as_string(), id);
  EXPECT_FALSE(std::filesystem::exists(store->get(id).spool_dir)) << "spool folder left behind";
}

TEST_F(JobPipelineTest, PermanentFalFailureRecordsTheRequestId) {
  fal.fail_wait_once = fal::FalErrorKind::app_failure;
  const auto id = drop_pair("clip");
  run(id);
  EXPECT_EQ(state(id), JobState::failed);
  const auto report = boost::json::parse(read_text(dir / "error/clip.error.json")).as_object();
  EXPECT_EQ(report.at("request_id").as_string(), "req-1");
  EXPECT_EQ(report.at("stage").as_string(), "fal");
}

TEST_F(JobPipelineTest, AJobWithARequestIdIsOnlyPolledAfterAFailure) {
  fal.fail_wait_once = fal::FalErrorKind::network;
  const auto id = drop_pair("clip");
  run(id);
  ASSERT_EQ(state(id), JobState::deferred);
  EXPECT_EQ(store->get(id).stage(), JobState::submitted);
  now += std::chrono::minutes(5);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(fal.waits, 2);
}

TEST_F(JobPipelineTest, FalsOwnRequestUrlsAreStoredAndFollowedAfterARestart) {
  fal.fail_wait_once = fal::FalErrorKind::network;
  const auto id = drop_pair("clip");
  run(id);
  ASSERT_EQ(state(id), JobState::deferred);
  const auto stored = store->get(id).request_urls;
  EXPECT_EQ(stored.status, "http://fake/full/req-1/status");
  EXPECT_EQ(stored.response, "http://fake/full/req-1");
  EXPECT_EQ(stored.cancel, "http://fake/full/req-1/cancel");
  // A new store on the same file: nothing of the first run is in memory any more.
  pipeline.reset();
  store.reset();
  make_store_and_pipeline();
  now += std::chrono::minutes(5);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  ASSERT_EQ(fal.followed.size(), 2u);
  EXPECT_EQ(fal.followed.back().request_id, "req-1");
  EXPECT_EQ(fal.followed.back().status_url, "http://fake/full/req-1/status");
  EXPECT_EQ(fal.followed.back().response_url, "http://fake/full/req-1");
  EXPECT_EQ(fal.followed.back().cancel_url, "http://fake/full/req-1/cancel");
}

TEST_F(JobPipelineTest, AKeyRefusedByFalPausesEveryUploadAndSubmitUntilReopened) {
  fal.fail_submit = fal::FalErrorKind::forbidden;
  const auto first = drop_pair("first", "video-1");
  run(first);
  EXPECT_EQ(state(first), JobState::failed);
  EXPECT_EQ(store->get(first).error->reason_code, "fal_forbidden");
  ASSERT_TRUE(pipeline->submission_gate().closure().has_value());
  EXPECT_EQ(pipeline->submission_gate().closure()->job_id, first);
  fal.fail_submit.reset();

  const auto second = drop_pair("second", "video-2");
  const int uploads_before = fal.uploads;
  run(second);
  EXPECT_EQ(state(second), JobState::deferred);
  EXPECT_EQ(store->get(second).stage(), JobState::prepared);
  EXPECT_EQ(store->get(second).error->reason_code, kSubmissionsPausedReason);
  EXPECT_EQ(store->get(second).attempts, 0) << "waiting for a person must not use up attempts";
  EXPECT_EQ(fal.uploads, uploads_before) << "uploaded although fal refuses the key";
  now += std::chrono::hours(1);
  run(second);  // still closed: still waiting, still nothing sent
  EXPECT_EQ(state(second), JobState::deferred);
  EXPECT_EQ(fal.uploads, uploads_before);

  EXPECT_TRUE(pipeline->reopen_submissions());
  EXPECT_FALSE(pipeline->reopen_submissions());
  now += std::chrono::hours(1);
  run(second);
  EXPECT_EQ(state(second), JobState::delivered);
  EXPECT_EQ(fal.submits, 2);
}

TEST_F(JobPipelineTest, OnlyA401Or403ClosesTheSubmissionGate) {
  SubmissionGate gate;
  EXPECT_FALSE(
      gate.close_if_key_refused("j", {"fal_http_final", "422", "", Permanence::permanent}));
  EXPECT_FALSE(gate.close_if_key_refused(
      "j", {"fal_app_failure", "model failed", "", Permanence::permanent}));
  EXPECT_FALSE(gate.closure().has_value());
  EXPECT_TRUE(gate.close_if_key_refused("j1", {"fal_auth", "401", "", Permanence::permanent}));
  EXPECT_FALSE(
      gate.close_if_key_refused("j2", {"fal_forbidden", "403", "", Permanence::permanent}));
  EXPECT_EQ(gate.closure()->job_id, "j1");  // the first refusal is the one to report
  const auto paused = gate.paused_error();
  EXPECT_EQ(paused.reason_code(), kSubmissionsPausedReason);
  EXPECT_TRUE(paused.is_transient());
  EXPECT_NE(std::string(paused.what()).find("job j1"), std::string::npos);
  gate.open();
  EXPECT_FALSE(gate.closure().has_value());
}

TEST_F(JobPipelineTest, BudgetCapHoldsTheJobUntilTheCapIsRaised) {
  config().budget.daily_usd = 0.01;  // the job's estimate is about 0.023 USD
  const auto id = drop_pair("clip");
  run(id);
  auto job = store->get(id);
  EXPECT_EQ(job.state, JobState::held);
  EXPECT_EQ(job.hold_reason, spool::HoldReason::budget);
  EXPECT_EQ(fal.uploads, 0);
  EXPECT_TRUE(saw(observe::EventName::held));
  config().budget.daily_usd = 5;  // what a reload does
  store->resume(id);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
}

TEST_F(JobPipelineTest, ACapThatBreaksAfterTheUploadHoldsTheJobAtTheSubmitReservation) {
  // The check before the upload passes; the cap falls while uploading (a reload, or another
  // process spending). Only the submit's reservation, checked in its own transaction, can see it.
  const auto id = drop_pair("clip");
  fal.on_upload = [this] { config().budget.daily_usd = 0.01; };
  run(id);
  const auto job = store->get(id);
  EXPECT_EQ(job.state, JobState::held);
  EXPECT_EQ(job.hold_reason, spool::HoldReason::budget);
  EXPECT_EQ(job.stage(), JobState::uploaded);
  EXPECT_EQ(fal.uploads, 2);
  EXPECT_EQ(fal.submits, 0);
  EXPECT_EQ(store->ledger().spend(now).today_usd, 0.0) << "a refused reservation left spend";
  fal.on_upload = nullptr;
  config().budget.daily_usd = 5;
  store->resume(id);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(fal.uploads, 2) << "the uploads were redone although they were done";
}

TEST_F(JobPipelineTest, DuplicateContentReusesTheEarlierResultWithoutPaying) {
  const auto first = drop_pair("clip", "same video", "same audio");
  run(first);
  ASSERT_EQ(state(first), JobState::delivered);
  const auto second = drop_pair("clip", "same video", "same audio");
  run(second);
  EXPECT_EQ(state(second), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(media.prepares, 1);
  EXPECT_EQ(read_text(dir / "outbox/clip.lipsync-2.mp4"), kFakeMp4);
  const auto sidecar =
      boost::json::parse(read_text(dir / "outbox/clip.lipsync-2.json")).as_object();
  EXPECT_EQ(sidecar.at("duplicate_of").as_string(), first);
  EXPECT_EQ(sidecar.at("estimated_cost_usd").as_double(), 0.0);
  EXPECT_TRUE(saw(observe::EventName::duplicate));
}

TEST_F(JobPipelineTest, ADuplicateWindowOfZeroPaysAgain) {
  config().intake.duplicate_window_h = 0;
  run(drop_pair("clip", "same video", "same audio"));
  run(drop_pair("clip", "same video", "same audio"));
  EXPECT_EQ(fal.submits, 2);
}

TEST_F(JobPipelineTest, AResultShorterThanThePlanFailsAtTheFirstCheck) {
  media.result_s = 1.0;  // fal's file lasts 1 s where 2 s were planned: its inputs were cut
  const auto id = drop_pair("clip");
  run(id);
  const auto job = store->get(id);
  ASSERT_EQ(job.state, JobState::failed);
  ASSERT_TRUE(job.error);
  EXPECT_EQ(job.error->reason_code, "result_too_short");
  EXPECT_EQ(job.attempts, 0);
  EXPECT_EQ(fal.downloads, 1) << "the same file was downloaded again";
  EXPECT_EQ(fal.submits, 1);
  const auto report = boost::json::parse(read_text(dir / "error/clip.error.json")).as_object();
  EXPECT_EQ(report.at("reason_code").as_string(), "result_too_short");
  EXPECT_EQ(report.at("stage").as_string(), "deliver");
  EXPECT_EQ(std::string(report.at("hint").as_string()).find("download"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "outbox/clip.lipsync.mp4"));
  EXPECT_FALSE(std::filesystem::exists(job.spool_dir)) << "a final job left its spool folder";
}

TEST_F(JobPipelineTest, ABrokenDownloadIsFetchedAgain) {
  fal.broken_downloads = 1;
  const auto id = drop_pair("clip");
  run(id);
  auto job = store->get(id);
  ASSERT_EQ(job.state, JobState::deferred);
  EXPECT_EQ(job.stage(), JobState::completed);
  EXPECT_EQ(job.error->reason_code, "result_invalid");
  EXPECT_FALSE(std::filesystem::exists(job.result_file()));
  EXPECT_FALSE(std::filesystem::exists(dir / "outbox/clip.lipsync.mp4"));
  now += std::chrono::minutes(1);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.downloads, 2);
  EXPECT_EQ(fal.submits, 1);
}

TEST_F(JobPipelineTest, AnOutboxThatCannotBeWrittenWaitsLoudlyWithoutUsingUpAttempts) {
  config().daemon.max_attempts = 2;
  std::ofstream(dir / "blocker") << "a file where the outbox's parent should be";
  config().paths.outbox = dir / "blocker/outbox";
  const auto id = drop_pair("clip");
  for (int round = 0; round < 4; ++round) {  // more rounds than max_attempts
    run(id);
    const auto job = store->get(id);
    ASSERT_EQ(job.state, JobState::deferred) << "round " << round;
    EXPECT_EQ(job.stage(), JobState::completed);
    EXPECT_EQ(job.attempts, 0);
    ASSERT_TRUE(job.error.has_value());
    EXPECT_EQ(job.error->reason_code, "delivery_blocked");
    EXPECT_TRUE(std::filesystem::exists(job.result_file())) << "the paid result was dropped";
    now += std::chrono::hours(1);
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, observe::EventName::deferred);
  EXPECT_EQ(events.back().reason_code, "delivery_blocked");
  EXPECT_EQ(events.back().severity, observe::Severity::error);
  EXPECT_FALSE(std::filesystem::exists(dir / "error/clip.error.json"));

  config().paths.outbox = dir / "outbox";  // fixed
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(fal.downloads, 1);
  EXPECT_EQ(read_text(dir / "outbox/clip.lipsync.mp4"), kFakeMp4);
}

TEST_F(JobPipelineTest, RetryOfAFailedJobWithAResultDeliversItWithoutPayingAgain) {
  std::ofstream(dir / "blocker") << "not a folder";
  config().paths.outbox = dir / "blocker/outbox";
  const auto id = drop_pair("clip");
  run(id);
  ASSERT_EQ(state(id), JobState::deferred);
  // A job that failed with its result in the spool (a person, or an older lipsyncd).
  store->fail(id, {"deliver", "disk_error", "cannot write the outbox", ""});
  config().paths.outbox = dir / "outbox";
  EXPECT_EQ(store->retry(id).state, JobState::completed);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(fal.downloads, 1);
  EXPECT_TRUE(std::filesystem::exists(dir / "outbox/clip.lipsync.mp4"));
}

TEST_F(JobPipelineTest, RetryOfAFailedJobWithARequestIdPollsAndDownloadsIt) {
  fal.fail_wait_once = fal::FalErrorKind::app_failure;
  const auto id = drop_pair("clip");
  run(id);
  ASSERT_EQ(state(id), JobState::failed);
  EXPECT_FALSE(std::filesystem::exists(store->get(id).spool_dir / "prepared"));
  EXPECT_EQ(restore_inputs_from_error(store->get(id), dir / "error"), 2);
  EXPECT_EQ(store->retry(id).state, JobState::submitted);
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(fal.waits, 2);
  EXPECT_TRUE(std::filesystem::exists(dir / "done/clip.mp4"));
}

TEST_F(JobPipelineTest, TransientFailuresStopAfterMaxAttempts) {
  config().daemon.max_attempts = 2;
  fal.fail_upload_once = fal::FalErrorKind::network;
  const auto id = drop_pair("clip");
  run(id);
  ASSERT_EQ(state(id), JobState::deferred);
  now += std::chrono::minutes(5);
  fal.fail_upload_once = fal::FalErrorKind::network;
  run(id);
  EXPECT_EQ(state(id), JobState::failed);
  EXPECT_TRUE(std::filesystem::exists(dir / "error/clip.error.json"));
}

TEST_F(JobPipelineTest, AFullDiskWaitsForSpaceWithoutUsingUpAttempts) {
  config().daemon.max_attempts = 2;
  fal.disk_full_downloads = 4;  // more than max_attempts
  const auto id = drop_pair("clip");
  for (int round = 0; round < 4; ++round) {
    run(id);
    const auto job = store->get(id);
    ASSERT_EQ(job.state, JobState::deferred) << "round " << round;
    EXPECT_EQ(job.attempts, 0);
    ASSERT_TRUE(job.error.has_value());
    EXPECT_EQ(job.error->reason_code, "disk_full");
    EXPECT_NE(job.error->hint.find("free some space"), std::string::npos) << job.error->hint;
    now += std::chrono::hours(1);
  }
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "error/clip.error.json"));
}

TEST_F(JobPipelineTest, ACancelledJobStopsWithoutTouchingItsFiles) {
  const auto id = drop_pair("clip");
  store->cancel(id, "test");
  run(id);
  EXPECT_EQ(state(id), JobState::cancelled);
  EXPECT_EQ(media.prepares, 0);
}

TEST_F(JobPipelineTest, ManifestOutputNameIsUsedAsAFileNameOnly) {
  const auto video = dir / "inbox/take.mp4";
  const auto audio = dir / "inbox/take.wav";
  std::ofstream(video) << "v";
  std::ofstream(audio) << "a";
  JobRequest request;
  request.name = "take";
  request.video = video;
  request.audio = audio;
  request.source = JobSource::manifest;
  request.output_name = "../escape/final take.mp4";
  const auto id = store->claim(request).job.id;
  run(id);
  EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_TRUE(std::filesystem::exists(dir / "outbox/final take.mp4"));
  EXPECT_TRUE(std::filesystem::exists(dir / "outbox/final take.json"));
}

// Issue 10, case 3: two copies of the same pair in flight at once were both paid for.
class DuplicatesInFlightTest : public JobPipelineTest {
 protected:
  DuplicatesInFlightTest() {
    config().daemon.max_parallel_prepare = 2;
    pipeline->set_config(config_);
  }

  // Both jobs start together, as two pumps would start them, and run until they park or end.
  void run_together(const spool::JobId& a, const spool::JobId& b) {
    auto first = boost::asio::co_spawn(io, pipeline->run(a), boost::asio::use_future);
    auto second = boost::asio::co_spawn(io, pipeline->run(b), boost::asio::use_future);
    io.restart();
    io.run();
    first.get();
    second.get();
  }

  // What the daemon's pump does every 500 ms.
  std::vector<spool::JobId> release_waits() {
    std::vector<spool::JobId> ids;
    for (const auto& job : store->release_duplicate_waits()) ids.push_back(job.id);
    return ids;
  }
};

TEST_F(DuplicatesInFlightTest, TheSecondCopyWaitsForTheFirstAndReusesItsResult) {
  const auto first = drop_pair("one", "same video", "same audio");
  const auto second = drop_pair("two", "same video", "same audio");
  run_together(first, second);
  EXPECT_EQ(state(first), JobState::delivered);
  ASSERT_EQ(state(second), JobState::held);
  EXPECT_EQ(store->get(second).hold_reason, spool::HoldReason::duplicate_in_flight);
  EXPECT_NE(store->get(second).error->message.find(first), std::string::npos)
      << "the wait names the job it waits for";

  EXPECT_EQ(release_waits(), std::vector<spool::JobId>{second});
  run(second);
  EXPECT_EQ(state(second), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
  EXPECT_EQ(fal.uploads, 2);
  EXPECT_EQ(media.prepares, 1);
  const auto sidecar = boost::json::parse(read_text(dir / "outbox/two.lipsync.json")).as_object();
  EXPECT_EQ(sidecar.at("duplicate_of").as_string(), first);
  EXPECT_EQ(read_text(dir / "outbox/two.lipsync.mp4"), kFakeMp4);
}

TEST_F(DuplicatesInFlightTest, ACopyArrivingWhileTheFirstIsAtFalWaitsToo) {
  const auto first = drop_pair("one", "same video", "same audio");
  fal.fail_wait_once = fal::FalErrorKind::network;  // the first stays at fal (deferred, polled)
  run(first);
  ASSERT_EQ(store->get(first).stage(), JobState::submitted);
  const auto second = drop_pair("two", "same video", "same audio");
  run(second);
  EXPECT_EQ(state(second), JobState::held);
  EXPECT_TRUE(release_waits().empty());
  now += std::chrono::minutes(5);
  run(first);
  ASSERT_EQ(state(first), JobState::delivered);
  EXPECT_EQ(release_waits(), std::vector<spool::JobId>{second});
  run(second);
  EXPECT_EQ(state(second), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
}

TEST_F(DuplicatesInFlightTest, IfTheFirstFailsTheWaitingCopyIsNotLostButGoesOnAndPaysOnce) {
  fal.fail_submit = fal::FalErrorKind::http_final;  // fal refuses the first for good
  const auto first = drop_pair("one", "same video", "same audio");
  const auto second = drop_pair("two", "same video", "same audio");
  run_together(first, second);
  ASSERT_EQ(state(first), JobState::failed);
  ASSERT_EQ(state(second), JobState::held);
  fal.fail_submit.reset();
  EXPECT_EQ(release_waits(), std::vector<spool::JobId>{second});
  run(second);
  EXPECT_EQ(state(second), JobState::delivered);
  EXPECT_EQ(fal.submits, 2);  // the refused one (nothing billed) and the copy's own
  EXPECT_FALSE(store->get(second).result->duplicate_of);
}

TEST_F(DuplicatesInFlightTest, HoldModeHoldsTheCopyForAPersonAndRetryReusesTheResult) {
  config().intake.duplicate_in_flight = "hold";
  const auto first = drop_pair("one", "same video", "same audio");
  const auto second = drop_pair("two", "same video", "same audio");
  run_together(first, second);
  ASSERT_EQ(state(first), JobState::delivered);
  ASSERT_EQ(state(second), JobState::held);
  EXPECT_EQ(store->get(second).hold_reason, spool::HoldReason::duplicate);
  EXPECT_TRUE(release_waits().empty()) << "a hold for a person waits for the person";
  store->retry(second);
  run(second);
  EXPECT_EQ(state(second), JobState::delivered);
  EXPECT_EQ(fal.submits, 1);
}

// Issue 10, case 9: the held message said "ambiguous_submit: ambiguous_submit: ...". The
// reason is in reason_code alone; the message starts with what happened.
TEST_F(JobPipelineTest, AnAmbiguousSubmitHoldSaysItsReasonOnce) {
  fal.fail_submit = fal::FalErrorKind::ambiguous_submit;
  const auto id = drop_pair("clip");
  run(id);
  const auto job = store->get(id);
  ASSERT_EQ(job.state, JobState::held);
  EXPECT_EQ(job.error->reason_code, "ambiguous_submit");
  const auto held = std::find_if(events.begin(), events.end(), [](const observe::JobEvent& e) {
    return e.event == observe::EventName::held;
  });
  ASSERT_NE(held, events.end());
  EXPECT_EQ(held->reason_code, "ambiguous_submit");
  EXPECT_EQ(held->message.rfind("injected ambiguous_submit; not resent", 0), 0u) << held->message;
}

// ── long-form jobs: one child job per segment, the parent stitches ─────────────────────────

class LongFormPipelineTest : public JobPipelineTest {
 protected:
  LongFormPipelineTest() {
    media.segments = 3;
    media.result_s = 6.0;
  }

  // Runs the parent until its segments exist, then each segment to its end.
  std::vector<spool::JobId> run_parent_and_segments(const spool::JobId& parent) {
    run(parent);
    std::vector<spool::JobId> ids;
    for (const auto& child : store->segments_of(parent)) ids.push_back(child.id);
    for (const auto& id : ids) run(id);
    return ids;
  }
};

TEST_F(LongFormPipelineTest, EachSegmentIsOneRequestAndTheParentDeliversOneStitchedVideo) {
  const auto parent = drop_pair("talk");
  const auto children = run_parent_and_segments(parent);
  ASSERT_EQ(children.size(), 3u);
  EXPECT_EQ(state(parent), JobState::segmented);
  for (const auto& id : children) EXPECT_EQ(state(id), JobState::delivered);
  EXPECT_EQ(fal.submits, 3);
  EXPECT_EQ(fal.last_input.sync_mode, "cut_off");
  EXPECT_FALSE(std::filesystem::exists(dir / "outbox/talk.lipsync.mp4"));
  EXPECT_FALSE(saw(observe::EventName::delivered)) << "a segment is not a delivered job";

  run(parent);
  EXPECT_EQ(state(parent), JobState::delivered);
  EXPECT_EQ(media.stitches, 1);
  ASSERT_EQ(media.last_stitch.segments.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(media.last_stitch.segments[i], store->get(children[i]).result_file());
    EXPECT_DOUBLE_EQ(media.last_stitch.planned_s[i], 2.0);
  }
  EXPECT_DOUBLE_EQ(media.last_stitch.expected_s, 6.0);
  const auto sidecar = boost::json::parse(read_text(dir / "outbox/talk.lipsync.json")).as_object();
  const auto& segments = sidecar.at("segments").as_array();
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[0].at("request_id").as_string(), "req-1");
  EXPECT_EQ(segments[2].at("request_id").as_string(), "req-3");
  EXPECT_DOUBLE_EQ(segments[1].at("start_s").as_double(), 2.0);
  EXPECT_TRUE(std::filesystem::exists(dir / "done/talk.mp4"));
  EXPECT_TRUE(std::filesystem::exists(dir / "done/talk.wav"));
  EXPECT_FALSE(std::filesystem::exists(store->get(parent).spool_dir));
}

TEST_F(LongFormPipelineTest, TheWholeEstimateIsReservedOnceAndSegmentsAddNothing) {
  const auto parent = drop_pair("talk");
  run(parent);
  const double whole = store->get(parent).plan->estimated_usd;
  EXPECT_NEAR(store->ledger().spend(now).today_usd, whole, 1e-9);
  for (const auto& child : store->segments_of(parent)) run(child.id);
  run(parent);
  ASSERT_EQ(state(parent), JobState::delivered);
  EXPECT_NEAR(store->ledger().spend(now).today_usd, whole, 1e-9) << "counted once";
}

TEST_F(LongFormPipelineTest, AWholeEstimateOverTheCapHoldsTheParentBeforeAnySegmentExists) {
  media.segment_s = 60;
  media.result_s = 180;
  // Two segments would fit, the whole job (three) does not.
  const double per_segment = resolve_model(fal.endpoint(), "").usd_per_minute;
  config().budget.daily_usd = 2.5 * per_segment;
  const auto parent = drop_pair("talk");
  run(parent);
  const auto job = store->get(parent);
  EXPECT_EQ(job.state, JobState::held);
  EXPECT_EQ(job.hold_reason, spool::HoldReason::budget);
  EXPECT_TRUE(store->segments_of(parent).empty());
  EXPECT_EQ(fal.uploads, 0);
  EXPECT_EQ(fal.submits, 0);
}

TEST_F(LongFormPipelineTest, AFailedSegmentFailsTheJobNamingItAndRetryPaysForNoSegmentAgain) {
  const auto parent = drop_pair("talk");
  run(parent);
  const auto children = store->segments_of(parent);
  ASSERT_EQ(children.size(), 3u);
  run(children[0].id);
  fal.fail_wait_once = fal::FalErrorKind::app_failure;  // segment 2's request fails at fal
  run(children[1].id);
  EXPECT_EQ(state(children[1].id), JobState::failed);
  EXPECT_TRUE(std::filesystem::exists(children[1].video.path)) << "a segment's inputs stay";
  run(children[2].id);
  run(parent);
  ASSERT_EQ(state(parent), JobState::failed);
  const auto report = boost::json::parse(read_text(dir / "error/talk.error.json")).as_object();
  EXPECT_NE(std::string(report.at("message").as_string()).find("segment 2/3"), std::string::npos)
      << report.at("message").as_string();
  EXPECT_TRUE(std::filesystem::exists(dir / "error/talk.mp4"));
  EXPECT_TRUE(std::filesystem::exists(children[0].result_file())) << "paid results are kept";
  EXPECT_EQ(fal.submits, 3);

  restore_inputs_from_error(store->get(parent), dir / "error");
  store->retry(parent);
  EXPECT_EQ(state(parent), JobState::segmented);
  EXPECT_EQ(state(children[0].id), JobState::delivered);
  EXPECT_EQ(state(children[1].id), JobState::submitted) << "its request is asked again";
  run(children[1].id);
  run(parent);
  EXPECT_EQ(state(parent), JobState::delivered);
  EXPECT_EQ(fal.submits, 3) << "no segment was submitted twice";
  EXPECT_TRUE(std::filesystem::exists(dir / "outbox/talk.lipsync.mp4"));
}

TEST_F(LongFormPipelineTest, AnAmbiguousSegmentSubmitHoldsTheParentForAPerson) {
  fal.fail_submit = fal::FalErrorKind::ambiguous_submit;
  const auto parent = drop_pair("talk");
  const auto children = run_parent_and_segments(parent);
  EXPECT_EQ(store->get(children[0]).hold_reason, spool::HoldReason::ambiguous_submit);
  run(parent);
  const auto job = store->get(parent);
  EXPECT_EQ(job.state, JobState::held);
  EXPECT_EQ(job.hold_reason, spool::HoldReason::ambiguous_submit);
  EXPECT_NE(job.error->message.find("segment 1/3"), std::string::npos) << job.error->message;
  run(parent);
  EXPECT_EQ(fal.submits, 3) << "held segments are never resent by themselves";
}

TEST_F(LongFormPipelineTest, AStitchThatFailsItsChecksFailsTheJobAndKeepsThePaidSegments) {
  media.stitch_failure = Error("stitch_check_failed", "segment 2 lasts 1.50 s, planned 2.00 s", "",
                               Permanence::permanent);
  const auto parent = drop_pair("talk");
  const auto children = run_parent_and_segments(parent);
  run(parent);
  EXPECT_EQ(state(parent), JobState::failed);
  EXPECT_EQ(store->get(parent).error->reason_code, "stitch_check_failed");
  for (const auto& id : children) {
    EXPECT_TRUE(std::filesystem::exists(store->get(id).result_file())) << id;
  }
  EXPECT_EQ(fal.submits, 3);
}

}  // namespace
}  // namespace lipsyncd::daemon
