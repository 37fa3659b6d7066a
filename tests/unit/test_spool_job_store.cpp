// The job store: claims, the state machine as persisted, queries, and the duplicate guard,
// on every backend (job_store_backends.hpp); then what only the SQLite backend has (its
// file, WAL mode, and migrations from older SQLite schemas).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <thread>

#include "job_store_backends.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::ElementsAre;

void write_bytes(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A clock that only moves when the test says so.
struct FakeClock {
  TimePoint now = TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}) + hours(6);
  Clock clock() {
    return [this] { return now; };
  }
};

// The helpers of both suites; `open` names the backend.
template <typename TestBase>
class StoreTest : public TestBase {
 protected:
  StoreTest() { fs::create_directories(inbox()); }

  fs::path inbox() const { return dir_ / "inbox"; }
  fs::path state() const { return dir_ / "state"; }

  virtual std::unique_ptr<JobStore> open(JobStoreSettings settings) = 0;
  std::unique_ptr<JobStore> open_store(const std::string& default_model = "lipsync-1.9.0-beta") {
    return open(JobStoreSettings{state(), default_model, time_.clock()});
  }

  JobRequest drop_pair(const std::string& stem, const std::string& video_bytes = "VIDEO",
                       const std::string& audio_bytes = "AUDIO") {
    JobRequest request;
    request.name = stem;
    request.video = inbox() / (stem + ".mp4");
    request.audio = inbox() / (stem + ".wav");
    write_bytes(request.video, video_bytes);
    write_bytes(request.audio, audio_bytes);
    return request;
  }

  // Takes a claimed job to `submitted`, as the daemon would.
  JobRecord submitted_job(JobStore& store, const std::string& stem, double estimate = 0.7) {
    const auto id = store.claim(drop_pair(stem)).job.id;
    JobPlan plan;
    plan.estimated_usd = estimate;
    plan.sync_mode = SyncMode::bounce;
    store.mark_prepared(id, plan);
    store.mark_uploaded(id, {"https://v.example/v.mp4", "https://v.example/a.wav"});
    store.mark_submitting(id, "fal-ai/sync-lipsync");
    return store.mark_submitted(id, "req-" + stem);
  }

  test::TempDir dir_;
  FakeClock time_;
};

class JobStoreTest : public StoreTest<testing::TestWithParam<test::JobStoreBackend>> {
 protected:
  std::unique_ptr<JobStore> open(JobStoreSettings settings) override {
    return GetParam().open(std::move(settings));
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreTest, testing::ValuesIn(test::job_store_backends()),
                         test::backend_name);

TEST_P(JobStoreTest, ClaimMovesTheInputsIntoTheJobsSpoolFolderAndRecordsAcceptedJob) {
  auto store = open_store();
  auto request = drop_pair("my clip ü", "video-bytes", "audio-bytes");
  request.model = "lipsync-1.8.0";
  request.output_name = "out.mp4";

  const ClaimResult claimed = store->claim(request);
  const JobRecord& job = claimed.job;

  EXPECT_FALSE(claimed.copied_across_filesystems);
  EXPECT_FALSE(fs::exists(request.video));
  EXPECT_FALSE(fs::exists(request.audio));
  EXPECT_EQ(read_bytes(job.video.path), "video-bytes");
  EXPECT_EQ(read_bytes(job.audio.path), "audio-bytes");
  EXPECT_EQ(job.video.original_path, request.video);
  EXPECT_EQ(job.audio.original_name(), "my clip ü.wav");
  EXPECT_EQ(job.spool_dir, store->spool_root() / job.id);
  EXPECT_EQ(job.video.path.parent_path().parent_path(), job.spool_dir);
  EXPECT_EQ(job.state, JobState::accepted);
  EXPECT_EQ(job.name, "my clip ü");
  EXPECT_EQ(job.options.model, "lipsync-1.8.0");
  EXPECT_EQ(job.options.output_name, "out.mp4");
  EXPECT_EQ(job.content_hash.size(), 64u);
  EXPECT_EQ(job.created_at, time_.now);

  const JobRecord stored = store->get(job.id);
  EXPECT_EQ(stored.video.path, job.video.path);
  EXPECT_EQ(stored.content_hash, job.content_hash);
  const auto events = store->history(job.id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].from.has_value());
  EXPECT_EQ(events[0].to, JobState::accepted);
}

TEST_P(JobStoreTest, JobIdsSortByCreationTime) {
  auto store = open_store();
  const auto first = store->claim(drop_pair("a")).job.id;
  time_.now += std::chrono::milliseconds(1);
  const auto second = store->claim(drop_pair("b")).job.id;
  time_.now += hours(30);
  const auto third = store->claim(drop_pair("c")).job.id;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_THAT(first, testing::StartsWith("20261125T060000.000Z-"));
}

TEST_P(JobStoreTest, ClaimOfAFolderJobTakesTheExtrasAndRemovesTheEmptiedFolder) {
  auto store = open_store();
  JobRequest request;
  request.name = "take";
  request.source = JobSource::folder;
  request.folder = inbox() / "take";
  request.video = request.folder / "face.mov";
  request.audio = request.folder / "voice.flac";
  request.extras = {request.folder / "job.json"};
  write_bytes(request.video, "v");
  write_bytes(request.audio, "a");
  write_bytes(request.extras[0], "{}");

  const JobRecord job = store->claim(request).job;

  EXPECT_FALSE(fs::exists(request.folder));
  ASSERT_EQ(job.extras.size(), 1u);
  EXPECT_EQ(read_bytes(job.extras[0].path), "{}");
  EXPECT_EQ(job.extras[0].original_path, request.folder / "job.json");
  EXPECT_EQ(store->get(job.id).source, JobSource::folder);
}

TEST_P(JobStoreTest, InputsWithTheSameFileNameGetDistinctSpoolNames) {
  auto store = open_store();
  JobRequest request;
  request.name = "same";
  request.source = JobSource::manifest;
  request.video = inbox() / "a" / "x.mp4";
  request.audio = inbox() / "b" / "x.mp4";
  write_bytes(request.video, "video");
  write_bytes(request.audio, "audio");
  const JobRecord job = store->claim(request).job;
  EXPECT_NE(job.video.path, job.audio.path);
  EXPECT_EQ(read_bytes(job.video.path), "video");
  EXPECT_EQ(read_bytes(job.audio.path), "audio");
}

TEST_P(JobStoreTest, ClaimWithAVanishedInputPutsTheOtherBackAndLeavesNoJob) {
  auto store = open_store();
  auto request = drop_pair("clip");
  fs::remove(request.audio);

  try {
    store->claim(request);
    FAIL() << "claim of a vanished input succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "input_vanished");
    EXPECT_FALSE(e.is_transient());
  }
  EXPECT_EQ(read_bytes(request.video), "VIDEO");
  EXPECT_TRUE(fs::is_empty(store->spool_root()));
  EXPECT_TRUE(store->unfinished().empty());
}

TEST_P(JobStoreTest, ClaimAcrossFilesystemsCopiesThenRemovesTheOriginal) {
  // /dev/shm is a tmpfs on Linux, the test's temporary folder usually is not.
  std::string pattern = "/dev/shm/lipsyncd-test-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path other_fs = pattern;
  struct Cleanup {
    fs::path path;
    ~Cleanup() { fs::remove_all(path); }
  } cleanup{other_fs};

  auto store = open_store();
  JobRequest request;
  request.name = "far";
  request.video = other_fs / "far.mp4";
  request.audio = other_fs / "far.wav";
  write_bytes(request.video, std::string(3 << 20, 'v'));  // more than one copy buffer
  write_bytes(request.audio, "audio");

  const ClaimResult claimed = store->claim(request);

  EXPECT_TRUE(claimed.copied_across_filesystems);
  EXPECT_FALSE(fs::exists(request.video));
  EXPECT_FALSE(fs::exists(request.audio));
  EXPECT_EQ(read_bytes(claimed.job.video.path), std::string(3 << 20, 'v'));
  EXPECT_THAT(store->history(claimed.job.id)[0].detail, testing::HasSubstr("across"));
}

TEST_P(JobStoreTest, TheWholeHappyPathIsPersistedAndSurvivesReopening) {
  JobId id;
  {
    auto store = open_store();
    id = store->claim(drop_pair("clip")).job.id;
    JobPlan plan{SyncMode::bounce, "audio longer", "lipsync-1.9.0-beta", 4.0, 4.53, 4.53, 0.05,
                 "/x/video.mp4",   "/x/audio.wav"};
    time_.now += seconds(5);
    store->mark_prepared(id, plan);
    store->mark_uploaded(id, {"https://fal/v", "https://fal/a"});
    store->mark_submitting(id, "fal-ai/sync-lipsync");
    EXPECT_TRUE(store->get(id).submit_intent);
    store->mark_submitted(id, "req-123");
    time_.now += seconds(40);
    store->mark_completed(id, {"https://fal/out.mp4", 12345, 0.06, std::nullopt});
    store->mark_delivered(id, {"/outbox/clip.lipsync.mp4", "/outbox/clip.lipsync.json"});
  }
  auto reopened = open_store();
  const JobRecord job = reopened->get(id);
  EXPECT_EQ(job.state, JobState::delivered);
  ASSERT_TRUE(job.plan);
  EXPECT_EQ(job.plan->sync_mode, SyncMode::bounce);
  EXPECT_EQ(job.plan->reason, "audio longer");
  EXPECT_DOUBLE_EQ(job.plan->output_s, 4.53);
  EXPECT_EQ(job.plan->normalized_audio, "/x/audio.wav");
  ASSERT_TRUE(job.uploads);
  EXPECT_EQ(job.uploads->audio_url, "https://fal/a");
  EXPECT_EQ(job.endpoint, "fal-ai/sync-lipsync");
  EXPECT_EQ(job.request_id, "req-123");
  ASSERT_TRUE(job.result);
  EXPECT_EQ(job.result->size_bytes, 12345u);
  EXPECT_EQ(job.result->billed_usd, 0.06);
  EXPECT_THAT(job.delivered_paths,
              ElementsAre("/outbox/clip.lipsync.mp4", "/outbox/clip.lipsync.json"));
  EXPECT_EQ(job.entered_at.at(JobState::prepared) - job.created_at, seconds(5));
  EXPECT_EQ(job.entered_at.at(JobState::completed) - job.created_at, seconds(45));

  std::vector<JobState> path;
  for (const auto& event : reopened->history(id)) path.push_back(event.to);
  EXPECT_THAT(path, ElementsAre(JobState::accepted, JobState::prepared, JobState::uploaded,
                                JobState::submitting, JobState::submitted, JobState::completed,
                                JobState::delivered));
  EXPECT_TRUE(reopened->unfinished().empty());
}

void expect_illegal(const std::function<void()>& action) {
  try {
    action();
    ADD_FAILURE() << "an illegal transition was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "illegal_transition") << e.what();
  }
}

TEST_P(JobStoreTest, IllegalTransitionsThrowAndChangeNothing) {
  auto store = open_store();
  const auto id = store->claim(drop_pair("clip")).job.id;
  expect_illegal([&] { store->mark_submitted(id, "req"); });
  expect_illegal([&] { store->mark_uploaded(id, {}); });
  expect_illegal([&] { store->mark_submitting(id, "fal-ai/sync-lipsync"); });
  expect_illegal([&] { store->mark_delivered(id, {}); });
  expect_illegal([&] { store->resume(id); });
  EXPECT_EQ(store->get(id).state, JobState::accepted);
  EXPECT_EQ(store->history(id).size(), 1u);

  const auto submitted = submitted_job(*store, "other").id;
  // A job at fal waits for fal: never for the budget or a person.
  expect_illegal([&] { store->hold(submitted, HoldReason::budget, "cap"); });
  expect_illegal([&] { store->mark_submitting(submitted, "again"); });

  store->cancel(id, "by test");
  expect_illegal([&] { store->mark_prepared(id, {}); });
  expect_illegal([&] { store->retry(id); });
  try {
    store->get("no-such-job");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "unknown_job");
  }
}

TEST_P(JobStoreTest, ADeferredJobComesDueAtItsRetryTimeAndResumesItsStage) {
  auto store = open_store();
  const auto id = store->claim(drop_pair("clip")).job.id;
  store->mark_prepared(id, {});
  const TimePoint retry_at = time_.now + seconds(30);
  const JobRecord deferred = store->defer(id,
                                          {
                                              "upload",
                                              "network_error",
                                              "connection reset",
                                              "",
                                          },
                                          retry_at);

  EXPECT_EQ(deferred.state, JobState::deferred);
  EXPECT_EQ(deferred.resume_state, JobState::prepared);
  EXPECT_EQ(deferred.stage(), JobState::prepared);
  EXPECT_EQ(deferred.attempts, 1);
  EXPECT_EQ(store->next_deferred_at(), retry_at);
  EXPECT_TRUE(store->due_deferred(time_.now).empty());
  // A parked job only goes back where it came from.
  expect_illegal([&] { store->mark_uploaded(id, {}); });

  time_.now += seconds(30);
  ASSERT_EQ(store->due_deferred(time_.now).size(), 1u);
  const JobRecord resumed = store->resume(id);
  EXPECT_EQ(resumed.state, JobState::prepared);
  EXPECT_FALSE(resumed.resume_state);
  EXPECT_FALSE(resumed.next_attempt_at);
  EXPECT_EQ(resumed.attempts, 1);  // kept for the backoff of the next failure
  EXPECT_FALSE(store->next_deferred_at());
  EXPECT_EQ(store->mark_uploaded(id, {}).state, JobState::uploaded);
}

TEST_P(JobStoreTest, DeferringASubmitThatNeverLeftResumesFromUploadedWithoutTheIntent) {
  auto store = open_store();
  const auto id = store->claim(drop_pair("clip")).job.id;
  store->mark_prepared(id, {});
  store->mark_uploaded(id, {});
  store->mark_submitting(id, "fal-ai/sync-lipsync");
  const JobRecord deferred =
      store->defer(id, {"submit", "connect_failed", "no route", ""}, time_.now);
  EXPECT_EQ(deferred.resume_state, JobState::uploaded);
  EXPECT_FALSE(deferred.submit_intent);
  EXPECT_EQ(store->resume(id).state, JobState::uploaded);
}

TEST_P(JobStoreTest, FailedJobsKeepTheirErrorAndRetryStartsThemAfreshWhenNothingWasPaid) {
  auto store = open_store();
  const auto id = store->claim(drop_pair("clip")).job.id;
  store->mark_prepared(id, {});
  store->mark_uploaded(id, {"https://v.example/v.mp4", "https://v.example/a.wav"});
  store->mark_submitting(id, "fal-ai/sync-lipsync");
  // fal refused the POST: nothing was created, nothing is paid.
  const JobRecord failed = store->fail(id, {"submit", "fal_refused", "fal said no", "try again"});
  EXPECT_EQ(failed.state, JobState::failed);
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->stage, "submit");
  EXPECT_EQ(failed.error->hint, "try again");
  EXPECT_TRUE(store->unfinished().empty());

  const JobRecord retried = store->retry(id);
  EXPECT_EQ(retried.state, JobState::accepted);
  EXPECT_TRUE(retried.request_id.empty());
  EXPECT_FALSE(retried.error);
  EXPECT_FALSE(retried.plan);
  EXPECT_EQ(retried.attempts, 0);
}

TEST_P(JobStoreTest, RetryOfAFailedJobWithARequestIdPollsItAndNeverSubmitsAgain) {
  auto store = open_store();
  const auto id = submitted_job(*store, "clip").id;
  store->defer(id, {"fal", "network", "poll failed", ""}, time_.now);
  store->fail(id, {"fal", "fal_unreachable", "gave up polling", ""});

  const JobRecord retried = store->retry(id);
  EXPECT_EQ(retried.state, JobState::submitted);
  EXPECT_EQ(retried.request_id, "req-clip");
  EXPECT_EQ(retried.attempts, 0);
  EXPECT_FALSE(retried.error);
  // Nothing can send it back to be submitted, whoever asks.
  for (const auto& attempt : std::vector<std::function<void()>>{
           [&] { store->mark_submitting(id, "fal-ai/sync-lipsync"); },
           [&] {
             store->mark_uploaded(id, {"u", "v"});
           },
           [&] { store->mark_prepared(id, {}); }}) {
    try {
      attempt();
      ADD_FAILURE() << "a job with a request id went back before submitted";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), "illegal_transition");
      EXPECT_THAT(e.what(), testing::HasSubstr("pay twice"));
    }
  }
  EXPECT_EQ(store->get(id).state, JobState::submitted);
  EXPECT_EQ(store->get(id).request_id, "req-clip");
}

TEST_P(JobStoreTest, RetryOfAFailedJobWithAResultDeliversIt) {
  auto store = open_store();
  const auto id = submitted_job(*store, "clip").id;
  store->mark_completed(id, {"https://fal.example/out.mp4", 1234, 0.05, std::nullopt});
  store->fail(id, {"deliver", "disk_error", "cannot write the outbox", ""});

  const JobRecord retried = store->retry(id);
  EXPECT_EQ(retried.state, JobState::completed);
  ASSERT_TRUE(retried.result);
  EXPECT_EQ(retried.result->url, "https://fal.example/out.mp4");
  EXPECT_EQ(retried.request_id, "req-clip");
  EXPECT_THROW(store->mark_submitting(id, "fal-ai/sync-lipsync"), Error);
  EXPECT_EQ(store->mark_delivered(id, {"/out/clip.lipsync.mp4"}).state, JobState::delivered);
}

TEST_P(JobStoreTest, RetryOfAFailedDuplicateStartsOverAsNothingWasPaidForIt) {
  auto store = open_store();
  const auto id = store->claim(drop_pair("clip")).job.id;
  JobResult reused;
  reused.duplicate_of = "earlier-job";
  store->mark_completed(id, reused);
  store->fail(id, {"deliver", "result_missing", "the reused result is gone", ""});
  const JobRecord retried = store->retry(id);
  EXPECT_EQ(retried.state, JobState::accepted);
  EXPECT_FALSE(retried.result);
}

TEST_P(JobStoreTest, RetryOfAHeldJobResumesIt) {
  auto store = open_store();
  const auto id = store->claim(drop_pair("clip")).job.id;
  store->mark_prepared(id, {});
  const JobRecord held = store->hold(id, HoldReason::budget, "daily budget reached");
  EXPECT_EQ(held.hold_reason, HoldReason::budget);
  ASSERT_EQ(store->held_for_budget().size(), 1u);
  const auto rows = store->status();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].reason_code, "budget_exceeded");
  EXPECT_EQ(rows[0].message, "daily budget reached");
  EXPECT_EQ(rows[0].stage, JobState::prepared);
  EXPECT_EQ(store->retry(id).state, JobState::prepared);
  EXPECT_TRUE(store->held_for_budget().empty());
  EXPECT_TRUE(store->status()[0].reason_code.empty());  // running again: nothing to explain
  EXPECT_FALSE(store->get(id).hold_reason);
}

TEST_P(JobStoreTest, DuplicateGuardFindsADeliveredJobWithTheSameContentWithinTheWindow) {
  auto store = open_store();
  const auto first = store->claim(drop_pair("one", "same video", "same audio")).job;
  store->mark_prepared(first.id, {});
  store->mark_completed(first.id, {"https://fal/out", 1, std::nullopt, std::nullopt});
  store->mark_delivered(first.id, {"/outbox/one.lipsync.mp4"});

  time_.now += hours(1);
  const auto again = store->claim(drop_pair("two", "same video", "same audio")).job;
  auto other_options = drop_pair("three", "same video", "same audio");
  other_options.sync_mode = SyncMode::loop;
  const auto different_mode = store->claim(other_options).job;
  const auto different_audio = store->claim(drop_pair("four", "same video", "other")).job;

  EXPECT_EQ(again.content_hash, first.content_hash);
  EXPECT_NE(different_mode.content_hash, first.content_hash);
  EXPECT_NE(different_audio.content_hash, first.content_hash);

  const auto duplicate = store->find_delivered_duplicate(again.content_hash, hours(24), again.id);
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->id, first.id);
  EXPECT_FALSE(store->find_delivered_duplicate(different_mode.content_hash, hours(24)));
  EXPECT_FALSE(store->find_delivered_duplicate(again.content_hash, seconds(0)));
  EXPECT_FALSE(store->find_delivered_duplicate(first.content_hash, hours(24), first.id));

  // The duplicate takes the earlier result without going to fal.
  const JobRecord completed =
      store->mark_completed(again.id, {"https://fal/out", 1, std::nullopt, first.id});
  EXPECT_EQ(completed.result->duplicate_of, first.id);

  time_.now += hours(24);
  EXPECT_FALSE(store->find_delivered_duplicate(again.content_hash, hours(24), again.id));
}

// ── the duplicate guard for jobs in flight (issue 10, case 3) ─────────────────────────────

// Delivers `id` as the daemon would, with its video really in `outbox` (a delivered twin is
// reused only while that file exists).
void deliver_with_file(JobStore& store, const JobId& id, const fs::path& outbox) {
  const auto video = outbox / (id + ".lipsync.mp4");
  write_bytes(video, "RESULT");
  store.mark_prepared(id, {});
  store.mark_completed(id, {"https://fal/out", 6, std::nullopt, std::nullopt});
  store.mark_delivered(id, {video, outbox / (id + ".lipsync.json")});
}

TEST_P(JobStoreTest, OnlyOneCopyOfTheSameContentMayGoToFalAtATime) {
  auto store = open_store();
  const auto first = store->claim(drop_pair("a", "same video", "same audio")).job.id;
  const auto second = store->claim(drop_pair("b", "same video", "same audio")).job.id;
  const auto third = store->claim(drop_pair("c", "same video", "same audio")).job.id;
  const auto other = store->claim(drop_pair("d", "other video", "same audio")).job.id;

  EXPECT_EQ(store->claim_content(first, hours(24)).verdict, ContentVerdict::proceed);
  // Asking again (a restart, a retry) keeps the claim with its holder.
  EXPECT_EQ(store->claim_content(first, hours(24)).verdict, ContentVerdict::proceed);
  for (const auto& copy : {second, third}) {
    const auto claim = store->claim_content(copy, hours(24));
    EXPECT_EQ(claim.verdict, ContentVerdict::wait_for_twin);
    ASSERT_TRUE(claim.twin);
    EXPECT_EQ(claim.twin->id, first);
  }
  EXPECT_EQ(store->claim_content(other, hours(24)).verdict, ContentVerdict::proceed);
  // A window of 0 turns the guard off altogether.
  EXPECT_EQ(store->claim_content(second, seconds(0)).verdict, ContentVerdict::proceed);
}

TEST_P(JobStoreTest, AJobPastAcceptedCountsAsInFlightEvenWithoutAClaim) {
  // A store from before the claims existed: a job already prepared must still block a twin.
  auto store = open_store();
  const auto prepared = store->claim(drop_pair("a", "same video", "same audio")).job.id;
  store->mark_prepared(prepared, {});
  const auto budget_held = store->claim(drop_pair("b", "held video", "same audio")).job.id;
  store->mark_prepared(budget_held, {});
  store->hold(budget_held, HoldReason::budget, "daily cap");

  const auto copy = store->claim(drop_pair("c", "same video", "same audio")).job.id;
  EXPECT_EQ(store->claim_content(copy, hours(24)).verdict, ContentVerdict::wait_for_twin);
  const auto held_copy = store->claim(drop_pair("d", "held video", "same audio")).job.id;
  EXPECT_EQ(store->claim_content(held_copy, hours(24)).verdict, ContentVerdict::wait_for_twin);
}

TEST_P(JobStoreTest, AWaitingCopyIsReleasedWhenItsTwinIsDeliveredAndThenReusesIt) {
  auto store = open_store();
  const auto first = store->claim(drop_pair("a", "same video", "same audio")).job.id;
  const auto copy = store->claim(drop_pair("b", "same video", "same audio")).job.id;
  ASSERT_EQ(store->claim_content(first, hours(24)).verdict, ContentVerdict::proceed);
  ASSERT_EQ(store->claim_content(copy, hours(24)).verdict, ContentVerdict::wait_for_twin);
  store->hold(copy, HoldReason::duplicate_in_flight, "waiting for " + first);

  EXPECT_TRUE(store->release_duplicate_waits().empty()) << "the twin is at accepted, claimed";
  store->mark_prepared(first, {});
  store->mark_uploaded(first, {"v", "a"});
  EXPECT_TRUE(store->release_duplicate_waits().empty()) << "the twin is at fal";
  EXPECT_EQ(store->count_held_by_reason().at(HoldReason::duplicate_in_flight), 1);

  store->mark_submitting(first, "fal-ai/sync-lipsync");
  store->mark_submitted(first, "req-1");
  store->mark_completed(first, {"https://fal/out", 6, std::nullopt, std::nullopt});
  const auto video = dir_.path() / "outbox" / "a.lipsync.mp4";
  write_bytes(video, "RESULT");
  store->mark_delivered(first, {video});

  const auto released = store->release_duplicate_waits();
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].id, copy);
  EXPECT_EQ(store->get(copy).state, JobState::accepted);
  const auto claim = store->claim_content(copy, hours(24));
  EXPECT_EQ(claim.verdict, ContentVerdict::reuse_delivered);
  ASSERT_TRUE(claim.twin);
  EXPECT_EQ(claim.twin->id, first);
  EXPECT_TRUE(store->release_duplicate_waits().empty());
}

TEST_P(JobStoreTest, IfTheTwinFailsTheWaitingCopyGoesOnAloneAndTheNextWaitsForIt) {
  auto store = open_store();
  const auto first = store->claim(drop_pair("a", "same video", "same audio")).job.id;
  const auto copy = store->claim(drop_pair("b", "same video", "same audio")).job.id;
  const auto late = store->claim(drop_pair("c", "same video", "same audio")).job.id;
  ASSERT_EQ(store->claim_content(first, hours(24)).verdict, ContentVerdict::proceed);
  for (const auto& waiting : {copy, late}) {
    ASSERT_EQ(store->claim_content(waiting, hours(24)).verdict, ContentVerdict::wait_for_twin);
    store->hold(waiting, HoldReason::duplicate_in_flight, "waiting");
  }
  store->fail(first, {"fal", "fal_app_failure", "the model failed", ""});

  EXPECT_EQ(store->release_duplicate_waits().size(), 2u);
  EXPECT_EQ(store->claim_content(copy, hours(24)).verdict, ContentVerdict::proceed);
  const auto claim = store->claim_content(late, hours(24));
  EXPECT_EQ(claim.verdict, ContentVerdict::wait_for_twin);
  EXPECT_EQ(claim.twin->id, copy);
}

TEST_P(JobStoreTest, HeldDuplicatesForAPersonAreNotReleasedByThemselves) {
  auto store = open_store();
  const auto first = store->claim(drop_pair("a", "same video", "same audio")).job.id;
  const auto copy = store->claim(drop_pair("b", "same video", "same audio")).job.id;
  ASSERT_EQ(store->claim_content(first, hours(24)).verdict, ContentVerdict::proceed);
  ASSERT_EQ(store->claim_content(copy, hours(24)).verdict, ContentVerdict::wait_for_twin);
  store->hold(copy, HoldReason::duplicate, "held as a duplicate");
  EXPECT_EQ(store->get(copy).error->reason_code, "duplicate");
  store->cancel(first, "lipsyncd cancel");
  EXPECT_TRUE(store->release_duplicate_waits().empty());
  EXPECT_EQ(store->retry(copy).state, JobState::accepted);  // a person sends it on
  EXPECT_EQ(store->claim_content(copy, hours(24)).verdict, ContentVerdict::proceed);
}

TEST_P(JobStoreTest, ADeliveredTwinWhoseVideoIsGoneIsNotReused) {
  auto store = open_store();
  const auto first = store->claim(drop_pair("a", "same video", "same audio")).job.id;
  deliver_with_file(*store, first, dir_.path() / "outbox");
  const auto copy = store->claim(drop_pair("b", "same video", "same audio")).job.id;
  EXPECT_EQ(store->claim_content(copy, hours(24)).verdict, ContentVerdict::reuse_delivered);
  fs::remove(dir_.path() / "outbox" / (first + ".lipsync.mp4"));  // a person took it away
  EXPECT_EQ(store->claim_content(copy, hours(24)).verdict, ContentVerdict::proceed);
}

TEST_P(JobStoreTest, ParallelClaimsFromTwoConnectionsLetExactlyOneCopyThrough) {
  // Two connections (the daemon's and, say, a second process), several threads each: the
  // decision is one IMMEDIATE transaction, so exactly one copy of each content proceeds.
  auto one = open_store();
  auto two = open_store();
  std::vector<JobId> copies;
  for (int i = 0; i < 12; ++i) {
    copies.push_back(
        one->claim(drop_pair("p" + std::to_string(i), "same video", "same audio")).job.id);
  }
  std::atomic<int> proceeded = 0;
  std::atomic<int> failures = 0;
  test::race_on_two_stores(*one, *two, copies.size(), [&](JobStore& store, std::size_t i) {
    try {
      if (store.claim_content(copies[i], hours(24)).verdict == ContentVerdict::proceed) {
        ++proceeded;
      }
    } catch (const Error&) {
      ++failures;
    }
  });
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(proceeded, 1);
}

TEST_P(JobStoreTest, CountsCoverEveryJobAndCanBeLimitedToRecentChanges) {
  auto store = open_store();
  for (int i = 0; i < 3; ++i) {
    store->cancel(store->claim(drop_pair("old" + std::to_string(i))).job.id, "old");
  }
  time_.now += hours(30);
  const auto today = std::chrono::floor<std::chrono::days>(time_.now);
  store->cancel(store->claim(drop_pair("new")).job.id, "new");
  const auto held = store->claim(drop_pair("held")).job.id;
  store->hold(held, HoldReason::ambiguous_submit, "maybe at fal");
  EXPECT_EQ(store->count_by_state().at(JobState::cancelled), 4);
  EXPECT_EQ(store->count_by_state(today).at(JobState::cancelled), 1);
  const auto by_reason = store->count_held_by_reason();
  EXPECT_EQ(by_reason.size(), 1u);
  EXPECT_EQ(by_reason.at(HoldReason::ambiguous_submit), 1);
}

TEST_P(JobStoreTest, CountsByReasonSeeOnlyTheStateAndStageAskedFor) {
  auto store = open_store();
  const auto error = [](const char* reason) { return JobError{"deliver", reason, "why", "hint"}; };
  // Two paid results waiting for the outbox, one for free space, and one upload deferred.
  for (const char* stem : {"blocked1", "blocked2", "full"}) {
    const auto id = submitted_job(*store, stem).id;
    store->mark_completed(id, {"https://fal/out.mp4", 1, std::nullopt, std::nullopt});
    store->defer(id, error(std::string(stem) == "full" ? "disk_full" : "delivery_blocked"),
                 time_.now + minutes(1), JobStore::AttemptCount::free);
  }
  const auto upload = store->claim(drop_pair("upload")).job.id;
  store->mark_prepared(upload, JobPlan{});
  store->defer(upload, JobError{"upload", "fal_unavailable", "503", ""}, time_.now + minutes(1));

  const auto waiting = store->count_by_reason(JobState::deferred, JobState::completed);
  EXPECT_EQ(waiting, (std::map<std::string, int>{{"delivery_blocked", 2}, {"disk_full", 1}}));
  const auto deferred = store->count_by_reason(JobState::deferred);
  EXPECT_EQ(deferred.at("fal_unavailable"), 1);
  EXPECT_EQ(deferred.size(), 3u);
  EXPECT_TRUE(store->count_by_reason(JobState::held).empty());
}

TEST_P(JobStoreTest, TheOldestUnfinishedJobCountsHeldJobsAndIgnoresFinishedOnes) {
  auto store = open_store();
  EXPECT_FALSE(store->oldest_unfinished_since().has_value());
  const auto old_done = store->claim(drop_pair("done")).job.id;
  store->cancel(old_done, "finished jobs do not age");
  time_.now += minutes(5);
  const auto taken = time_.now;
  const auto held = store->claim(drop_pair("held")).job.id;
  store->hold(held, HoldReason::ambiguous_submit, "maybe at fal");
  time_.now += minutes(6);
  store->claim(drop_pair("young"));
  EXPECT_EQ(store->oldest_unfinished_since(), taken);
  store->cancel(held, "gone");
  EXPECT_EQ(store->oldest_unfinished_since(), time_.now);
}

TEST_P(JobStoreTest, TheDefaultModelCountsInTheContentHash) {
  const auto hash_with = [&](const std::string& default_model, const std::string& stem) {
    return open_store(default_model)->claim(drop_pair(stem)).job.content_hash;
  };
  EXPECT_NE(hash_with("lipsync-1.9.0-beta", "a"), hash_with("lipsync-1.8.0", "b"));
}

TEST_P(JobStoreTest, StatusListsUnfinishedAndRecentJobsWithAgesFromTheClock) {
  auto store = open_store();
  const auto waiting = store->claim(drop_pair("waiting")).job.id;
  time_.now += minutes(2);
  const auto deferred = store->claim(drop_pair("deferred")).job.id;
  store->defer(deferred, {"prepare", "busy", "disk busy", ""}, time_.now + minutes(5));
  time_.now += seconds(1);
  const auto done = store->claim(drop_pair("done")).job.id;
  store->cancel(done, "not wanted");
  time_.now += minutes(1);

  const auto rows = store->status();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].id, waiting);
  EXPECT_EQ(rows[0].age, minutes(3) + seconds(1));
  EXPECT_EQ(rows[1].state, JobState::deferred);
  EXPECT_EQ(rows[1].stage, JobState::accepted);
  EXPECT_EQ(rows[1].reason_code, "busy");
  EXPECT_EQ(rows[1].in_state_for, minutes(1) + seconds(1));
  EXPECT_EQ(rows[1].attempts, 1);
  EXPECT_EQ(rows[2].state, JobState::cancelled);
  EXPECT_EQ(store->status(0).size(), 2u);

  const auto counts = store->count_by_state();
  EXPECT_EQ(counts.at(JobState::accepted), 1);
  EXPECT_EQ(counts.at(JobState::deferred), 1);
  EXPECT_EQ(counts.at(JobState::cancelled), 1);
}

TEST_P(JobStoreTest, ASecondProcessSeesTransitionsAtOnce) {
  auto daemon = open_store();
  auto cli = open_store();  // `lipsyncd status` opening the same state folder
  const auto id = daemon->claim(drop_pair("clip")).job.id;
  EXPECT_EQ(cli->get(id).state, JobState::accepted);
  cli->cancel(id, "lipsyncd cancel");
  EXPECT_EQ(daemon->get(id).state, JobState::cancelled);
}

TEST_P(JobStoreTest, ClaimsAndTransitionsFromSeveralThreadsDoNotInterfere) {
  auto store = open_store();
  std::vector<JobRequest> requests;
  for (int i = 0; i < 16; ++i) requests.push_back(drop_pair("t" + std::to_string(i)));
  std::vector<std::thread> threads;
  std::atomic<int> failures = 0;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 16; i += 4) {
        try {
          const auto id = store->claim(requests[static_cast<std::size_t>(i)]).job.id;
          store->mark_prepared(id, {});
          store->ledger().spend(time_.now);
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(store->count_by_state().at(JobState::prepared), 16);
}

// ── the SQLite backend's own ─────────────────────────────────────────────────────────────

class SqliteJobStoreTest : public StoreTest<testing::Test> {
 protected:
  std::unique_ptr<JobStore> open(JobStoreSettings settings) override {
    return open_job_store(std::move(settings));  // SQLite: no [store] url
  }
};

// What schema v5 added (long-form jobs' segments), undone, and v4 (fleet mode's leases,
// heartbeats and claim keys) too: the tests below make an older store out of a new one.
#define LIPSYNCD_BACK_TO_VERSION_4                                      \
  "DROP INDEX jobs_by_parent; ALTER TABLE jobs DROP COLUMN parent_id; " \
  "ALTER TABLE jobs DROP COLUMN segment; "
constexpr const char* kBackToVersion4 = LIPSYNCD_BACK_TO_VERSION_4;
constexpr const char* kBackToVersion3 = LIPSYNCD_BACK_TO_VERSION_4
    "DROP INDEX jobs_by_lease_node; ALTER TABLE jobs DROP COLUMN lease_node; "
    "ALTER TABLE jobs DROP COLUMN lease_token; ALTER TABLE jobs DROP COLUMN lease_expires_at; "
    "DROP TABLE nodes; DROP TABLE claim_keys; ";

void run_sql(const fs::path& database, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(database.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(SqliteJobStoreTest, AVersion4StoreKeepsItsJobsAndGainsSegments) {
  JobId old_job;
  {
    auto store = open_store();
    old_job = store->claim(drop_pair("old")).job.id;
    JobPlan plan;
    plan.reason = "before long-form jobs";
    plan.estimated_usd = 0.5;
    store->mark_prepared(old_job, plan);
  }
  run_sql(state() / "jobs.sqlite3", std::string(kBackToVersion4) + "PRAGMA user_version = 4");
  auto store = open_store();
  const JobRecord old = store->get(old_job);
  EXPECT_EQ(old.state, JobState::prepared);
  EXPECT_FALSE(old.is_segment());
  ASSERT_TRUE(old.plan);
  EXPECT_EQ(old.plan->reason, "before long-form jobs");
  EXPECT_FALSE(old.plan->is_long_form());
  EXPECT_TRUE(store->segments_of(old_job).empty());

  // A long-form job on the migrated store.
  const JobRecord parent = store->claim(drop_pair("long")).job;
  JobPlan plan;
  plan.estimated_usd = 2.0;
  plan.segments = {
      {1, 0, 540, "pause", 1.0, parent.spool_dir / "s1.mp4", parent.spool_dir / "s1.wav"},
      {2, 540, 1080, "end", 1.0, parent.spool_dir / "s2.mp4", parent.spool_dir / "s2.wav"}};
  store->mark_prepared(parent.id, plan);
  store->start_segments(parent.id);
  const auto segments = open_store()->segments_of(parent.id);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[1].segment->index, 2);
}

TEST_F(SqliteJobStoreTest, AVersion3StoreGainsLeasesAndItsJobsAreNobodys) {
  JobId old_job;
  {
    auto store = open_store();
    old_job = store->claim(drop_pair("old")).job.id;
  }
  run_sql(state() / "jobs.sqlite3", std::string(kBackToVersion3) + "PRAGMA user_version = 3");
  JobStoreSettings settings{state(), "lipsync-1.9.0-beta", time_.clock()};
  settings.node = "host-1";
  auto store = open(settings);
  EXPECT_TRUE(store->get(old_job).lease.node.empty());
  const auto pickup = store->take_due_jobs(10);
  ASSERT_EQ(pickup.due.size(), 1u);
  EXPECT_EQ(pickup.due[0].lease.node, "host-1");
  EXPECT_EQ(store->claim(drop_pair("new")).job.lease.node, "host-1");
}

TEST_F(SqliteJobStoreTest, AVersion1StoreGainsTheContentClaims) {
  open_store();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((state() / "jobs.sqlite3").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           (std::string(kBackToVersion3) +
                            "DROP TABLE content_claims; ALTER TABLE jobs DROP COLUMN request_urls; "
                            "PRAGMA user_version = 1")
                               .c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = open_store();
  const auto id = store->claim(drop_pair("a")).job.id;
  EXPECT_EQ(store->claim_content(id, hours(24)).verdict, ContentVerdict::proceed);
}

TEST_F(SqliteJobStoreTest, AVersion2StoreKeepsItsSubmittedJobsAndGainsFalsRequestUrls) {
  JobId old_job;
  {
    auto store = open_store();
    old_job = store->claim(drop_pair("old")).job.id;
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((state() / "jobs.sqlite3").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           (std::string(kBackToVersion3) +
                            "ALTER TABLE jobs DROP COLUMN request_urls; "
                            "UPDATE jobs SET state = 'submitted', request_id = 'r-old', "
                            "submit_intent = 1; PRAGMA user_version = 2")
                               .c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = open_store();
  const auto old = store->get(old_job);
  EXPECT_EQ(old.request_id, "r-old");
  EXPECT_TRUE(old.request_urls.status.empty());  // the client builds the app-only form
  const auto id = store->claim(drop_pair("new")).job.id;
  store->mark_prepared(id, JobPlan{});
  store->mark_uploaded(id, {"https://v.example/v.mp4", "https://v.example/a.wav"});
  store->mark_submitting(id, "fal-ai/sync-lipsync/v2");
  store->mark_submitted(id, "r-new", {"https://q/s", "https://q/r", "https://q/c"});
  const auto reopened = open_store()->get(id);
  EXPECT_EQ(reopened.request_urls.status, "https://q/s");
  EXPECT_EQ(reopened.request_urls.response, "https://q/r");
  EXPECT_EQ(reopened.request_urls.cancel, "https://q/c");
}

TEST_F(SqliteJobStoreTest, TheDatabaseIsInWalModeWithAVersionedSchema) {
  open_store();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((state() / "jobs.sqlite3").c_str(), &db), SQLITE_OK);
  const auto pragma = [db](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    sqlite3_step(stmt);
    std::string value(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    sqlite3_finalize(stmt);
    return value;
  };
  EXPECT_EQ(pragma("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma("PRAGMA user_version"), "5");
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    open_store();
    ADD_FAILURE() << "a store from the future was opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "store_too_new");
  }
}

}  // namespace
}  // namespace lipsyncd::spool
