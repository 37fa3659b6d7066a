// pair_files() on its own: which settled files form jobs, which wait (and until when) and which
// are rejected, on a clock the test sets. Files exist on disk only where their content is
// read (manifests, sniffed .mp4s).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "lipsyncd/intake/file_pairing.hpp"
#include "test_media.hpp"

namespace lipsyncd::intake {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FilePairingTest : public testing::Test {
 protected:
  FilePairingTest() { fs::create_directories(inbox_); }

  InboxFile settled(const std::string& relative, SteadyClock::duration ago = 0s) {
    return {inbox_ / relative, true, now_ - ago};
  }
  InboxFile settling(const std::string& relative) { return {inbox_ / relative, false, {}}; }
  void write(const std::string& relative, const std::string& text) {
    fs::create_directories((inbox_ / relative).parent_path());
    std::ofstream(inbox_ / relative, std::ios::binary) << text;
  }
  PairingOutcome pair(const std::vector<InboxFile>& files) {
    return pair_files(inbox_, files, now_, kPartnerWait);
  }

  static constexpr auto kPartnerWait = std::chrono::seconds(300);
  test::TempDir dir_;
  fs::path inbox_ = fs::canonical(dir_.path()) / "inbox";
  SteadyTime now_ = SteadyTime{} + 10h;
};

TEST_F(FilePairingTest, TwoSettledFilesWithOneStemAreOneJob) {
  const auto outcome = pair({settled("clip.mov"), settled("clip.wav")});
  ASSERT_EQ(outcome.requests.size(), 1u);
  EXPECT_EQ(outcome.requests[0].name, "clip");
  EXPECT_EQ(outcome.requests[0].source, JobSource::same_stem);
  EXPECT_EQ(outcome.requests[0].video, inbox_ / "clip.mov");
  EXPECT_EQ(outcome.requests[0].audio, inbox_ / "clip.wav");
  EXPECT_TRUE(outcome.rejections.empty());
}

TEST_F(FilePairingTest, NothingIsDecidedWhileAMemberIsStillSettling) {
  const auto outcome = pair({settled("clip.mov", 1h), settling("clip.wav")});
  EXPECT_TRUE(outcome.requests.empty());
  EXPECT_TRUE(outcome.rejections.empty());
  EXPECT_FALSE(outcome.next_deadline);  // the watcher's settle check comes first
}

TEST_F(FilePairingTest, ALoneFileWaitsPartnerWaitThenIsRejectedWithItsReason) {
  auto outcome = pair({settled("clip.mov", 100s)});
  EXPECT_TRUE(outcome.rejections.empty());
  ASSERT_TRUE(outcome.next_deadline);
  EXPECT_EQ(*outcome.next_deadline, now_ + 200s);

  now_ += 200s;
  outcome = pair({settled("clip.mov", 300s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "no_audio_found");
  EXPECT_THAT(outcome.rejections[0].files, testing::ElementsAre(inbox_ / "clip.mov"));
  EXPECT_TRUE(outcome.rejections[0].folder.empty());

  outcome = pair({settled("voice.flac", 301s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "no_video_found");
}

TEST_F(FilePairingTest, MoreThanOneVideoOrAudioForAStemIsAmbiguous) {
  const auto outcome = pair({settled("a.mov"), settled("a.avi"), settled("a.wav")});
  EXPECT_TRUE(outcome.requests.empty());
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "ambiguous_pair");
  EXPECT_EQ(outcome.rejections[0].files.size(), 3u);
}

TEST_F(FilePairingTest, AManifestTakesTheFilesItNamesBeforeAnyStemPairing) {
  write("take.job.json", R"({"video": "cam/take.mov", "audio": "take.wav", "sync_mode": "loop"})");
  const auto outcome =
      pair({settled("take.job.json"), settled("cam/take.mov"), settled("take.wav")});
  ASSERT_EQ(outcome.requests.size(), 1u);
  const auto& request = outcome.requests[0];
  EXPECT_EQ(request.source, JobSource::manifest);
  EXPECT_EQ(request.video, inbox_ / "cam" / "take.mov");
  EXPECT_EQ(request.audio, inbox_ / "take.wav");
  EXPECT_THAT(request.extras, testing::ElementsAre(inbox_ / "take.job.json"));
  EXPECT_EQ(request.sync_mode, SyncMode::loop);
  EXPECT_TRUE(outcome.rejections.empty());
}

TEST_F(FilePairingTest, AManifestReservesItsFilesWhileWaitingAndThenNamesWhatIsMissing) {
  write("take.job.json", R"({"video": "take.mov", "audio": "voice.wav"})");
  auto outcome = pair({settled("take.job.json", 10s), settled("take.mov", 400s)});
  EXPECT_TRUE(outcome.rejections.empty()) << "take.mov is reserved, not lone";
  ASSERT_TRUE(outcome.next_deadline);
  EXPECT_EQ(*outcome.next_deadline, now_ + 290s);

  outcome = pair({settled("take.job.json", 300s), settled("take.mov", 700s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "missing_input");
  EXPECT_THAT(outcome.rejections[0].message, testing::HasSubstr("voice.wav"));
  EXPECT_THAT(outcome.rejections[0].files, testing::ElementsAre(inbox_ / "take.job.json"));
}

TEST_F(FilePairingTest, AFolderWithNestedFoldersIsOneJobNamedAfterIt) {
  const auto outcome = pair({settled("Interview 2/camera/raw/a.mov"),
                             settled("Interview 2/mic.wav"), settled("Interview 2/notes.txt")});
  ASSERT_EQ(outcome.requests.size(), 1u);
  const auto& request = outcome.requests[0];
  EXPECT_EQ(request.name, "Interview 2");
  EXPECT_EQ(request.source, JobSource::folder);
  EXPECT_EQ(request.folder, inbox_ / "Interview 2");
  EXPECT_EQ(request.video, inbox_ / "Interview 2" / "camera" / "raw" / "a.mov");
  EXPECT_THAT(request.extras, testing::ElementsAre(inbox_ / "Interview 2" / "notes.txt"));
}

TEST_F(FilePairingTest, AFolderRejectionNamesTheFolderSoItCanBeRemovedOnceEmptied) {
  const auto outcome = pair({settled("lonely/camera/a.mov", 400s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "no_audio_found");
  EXPECT_EQ(outcome.rejections[0].folder, inbox_ / "lonely");
}

TEST_F(FilePairingTest, AFileOfUnknownTypeIsRejectedAfterPartnerWait) {
  write("notes.txt", "call Bob");
  EXPECT_TRUE(pair({settled("notes.txt", 10s)}).rejections.empty());
  const auto outcome = pair({settled("notes.txt", 300s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "unknown_file_type");
}

}  // namespace
}  // namespace lipsyncd::intake
