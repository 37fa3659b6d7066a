// Claim dispatch: a request becomes a claimed, started job with its `accepted` event; rejected
// inputs go to error/ with their report, keeping their place in the inbox.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "daemon_test_store.hpp"
#include "lipsyncd/daemon/claim_dispatch.hpp"

namespace lipsyncd::daemon {
namespace {

using namespace std::chrono_literals;

TEST(ClaimDispatchStem, ManifestsLoseTheirWholeSuffix) {
  EXPECT_EQ(stem_of("/in/clip.mp4"), "clip");
  EXPECT_EQ(stem_of("/in/take.job.json"), "take");
  EXPECT_EQ(stem_of("/in/.job.json"), ".job");
}

TEST(ClaimDispatchEvents, AcceptedSaysWhatWasPairedAndACrossFilesystemCopy) {
  spool::ClaimResult claim;
  claim.job.id = "j-1";
  claim.job.name = "clip";
  claim.job.video.original_path = "/in/clip.mp4";
  claim.job.audio.original_path = "/in/clip.wav";
  auto event = accepted_event(claim);
  EXPECT_EQ(event.event, observe::EventName::accepted);
  EXPECT_EQ(event.job_id, "j-1");
  EXPECT_EQ(event.stage, "intake");
  EXPECT_EQ(event.message.rfind("clip: clip.mp4 + clip.wav (", 0), 0u) << event.message;
  EXPECT_EQ(event.message.find("another filesystem"), std::string::npos);
  claim.copied_across_filesystems = true;
  EXPECT_NE(accepted_event(claim).message.find("another filesystem"), std::string::npos);
}

TEST(ClaimDispatchRejection, InputsGoToErrorWithTheirReportAndTheEmptiedFolderGoes) {
  lipsyncd::test::TempDir dir;
  const auto inbox = dir / "inbox";
  const auto error = dir / "error";
  std::filesystem::create_directories(inbox / "take1");
  std::ofstream(inbox / "take1" / "lonely.mp4") << "video";
  intake::Rejection rejection{.reason_code = "no_audio_found",
                              .message = "no audio found for lonely.mp4",
                              .hint = "drop the audio beside it",
                              .files = {inbox / "take1" / "lonely.mp4"},
                              .folder = inbox / "take1"};
  const auto event = reject_at_intake(rejection, inbox, error);
  EXPECT_EQ(event.event, observe::EventName::rejected);
  EXPECT_EQ(event.reason_code, "no_audio_found");
  EXPECT_NE(event.message.find("moved to " + error.string()), std::string::npos) << event.message;
  EXPECT_TRUE(std::filesystem::exists(error / "take1" / "lonely.mp4"));
  EXPECT_FALSE(std::filesystem::exists(inbox / "take1"));
  const auto report =
      boost::json::parse(lipsyncd::test::read_text(error / "lonely.error.json")).as_object();
  EXPECT_EQ(report.at("stage").as_string(), "intake");
  EXPECT_EQ(report.at("reason_code").as_string(), "no_audio_found");
  EXPECT_EQ(report.at("hint").as_string(), "drop the audio beside it");
}

TEST(ClaimDispatch, ARequestIsClaimedOffTheLoopThenStarted) {
  test_support::TestStore t;
  boost::asio::io_context io;
  boost::asio::thread_pool claims(1);
  std::vector<observe::JobEvent> events;
  std::vector<spool::JobId> started;
  PathsConfig paths;
  paths.inbox = t.inbox();
  paths.error = t.dir / "error";
  ClaimDispatch dispatch(io, claims, *t.store, paths,
                         {.on_event = [&](const observe::JobEvent& e) { events.push_back(e); },
                          .start_job = [&](const spool::JobId& id) { started.push_back(id); },
                          .reexamine = {}});
  const auto request = test_support::write_pair(t.inbox(), "clip");
  dispatch.on_request(request);
  claims.join();  // the claim is done; its answer is posted to the loop
  io.run();
  ASSERT_EQ(started.size(), 1u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, observe::EventName::accepted);
  EXPECT_EQ(events[0].job_id, started[0]);
  EXPECT_EQ(t.store->get(started[0]).state, spool::JobState::accepted);
  EXPECT_FALSE(std::filesystem::exists(t.inbox() / "clip.mp4"));
}

TEST(ClaimDispatch, FilesAnotherNodeHoldsAreLeftAloneAndLookedAtAgain) {
  test_support::TestStore t;
  boost::asio::io_context io;
  boost::asio::thread_pool claims(1);
  std::vector<spool::JobId> started;
  std::vector<std::vector<std::filesystem::path>> reexamined;
  ClaimDispatch dispatch(
      io, claims, *t.store, PathsConfig{},
      {.on_event = {},
       .start_job = [&](const spool::JobId& id) { started.push_back(id); },
       .reexamine = [&](const std::vector<std::filesystem::path>& f) { reexamined.push_back(f); }});
  const auto request = test_support::write_pair(t.inbox(), "clip");
  // Another node of the fleet holds these files' key.
  spool::JobStoreSettings other;
  other.state_dir = t.dir / "state";
  other.inbox_dir = t.inbox();
  other.clock = [&t] { return t.now; };
  other.node = "other-node";
  ASSERT_TRUE(spool::open_job_store(other)->claim_for_rejection(request.files()));

  dispatch.on_request(request);
  claims.join();
  io.run_for(kClaimRetryDelay + std::chrono::seconds(1));
  EXPECT_TRUE(started.empty());
  EXPECT_TRUE(std::filesystem::exists(request.video));
  EXPECT_TRUE(std::filesystem::exists(request.audio));
  ASSERT_EQ(reexamined.size(), 1u) << "the files must be looked at again";
  EXPECT_EQ(reexamined[0], request.files());
}

TEST(ClaimDispatch, AfterStopRequestsStayInTheInbox) {
  test_support::TestStore t;
  boost::asio::io_context io;
  boost::asio::thread_pool claims(1);
  int started = 0;
  ClaimDispatch dispatch(
      io, claims, *t.store, PathsConfig{},
      {.on_event = {}, .start_job = [&](const spool::JobId&) { ++started; }, .reexamine = {}});
  const auto request = test_support::write_pair(t.inbox(), "clip");
  dispatch.stop();
  dispatch.on_request(request);
  claims.join();
  io.run();
  EXPECT_EQ(started, 0);
  EXPECT_TRUE(std::filesystem::exists(t.inbox() / "clip.mp4"));
  EXPECT_TRUE(t.store->unfinished().empty());
}

}  // namespace
}  // namespace lipsyncd::daemon
